-- Step summary rows made from the spans a window's summary rows (step_metrics.sql) leave
-- out, for the caller to merge with them: the step spans of the window's partial UTC days
-- at its edges, [$since, $head_until) and [$tail_since, $until) (step_summaries.window_edges:
-- constants, so that the zone maps skip every other span), and the step spans naming no
-- workflow. Those (OTel cicd.pipeline.task.* spans carry only the task name) belong to
-- their execution's workflow, which may arrive after them: they are never summarized, and
-- this query runs only when the window holds some (unnamed_steps.sql) or has edges.
WITH edge_spans AS (
    SELECT workspace_id, workflow_id, step_id, name, start_ns, step_status, retry_count, duration_ns, span_role
    FROM spans
    WHERE workspace_id = $workspace_id AND workflow_id = $workflow_id AND span_role = 'step'
      AND start_ns >= $since AND start_ns < $head_until
    UNION ALL
    SELECT workspace_id, workflow_id, step_id, name, start_ns, step_status, retry_count, duration_ns, span_role
    FROM spans
    WHERE workspace_id = $workspace_id AND workflow_id = $workflow_id AND span_role = 'step'
      AND start_ns >= $tail_since AND start_ns < $until
    UNION ALL
    SELECT workspace_id, $workflow_id AS workflow_id, step_id, name, start_ns, step_status, retry_count,
           duration_ns, span_role
    FROM spans
    SEMI JOIN (
        SELECT execution_id FROM executions WHERE workspace_id = $workspace_id AND workflow_id = $workflow_id
    ) e USING (execution_id)
    WHERE workspace_id = $workspace_id AND workflow_id IS NULL AND span_role = 'step'
      AND start_ns >= $since AND start_ns < $until
)
SELECT step_id, runs, completed, failed, skipped, cancelled, retries, runs_with_retries, ran,
       ran_ns::DOUBLE AS ran_ns, ran_max_ns, total_ns::DOUBLE AS total_ns, first_start_ns, last_start_ns,
       last_name, histogram
FROM step_summary_rows(edge_spans, 0, 18446744073709551615);
