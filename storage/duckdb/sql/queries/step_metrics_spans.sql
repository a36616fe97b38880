-- One workflow's step metrics over [$since, $until), second read (step_summary_reads.py):
-- summary rows made from the step spans the summaries (step_metrics.sql) leave out, for the
-- caller to merge with them: the workflow's step spans of the ranges {ranges} (the window's
-- partial days at its edges, unsealed and stale days: constants, so that the zone maps skip
-- every other span), and, when the window holds some, the step spans naming no workflow of
-- its executions (over the whole window: they are never summarized). {unnamed} is `true`
-- or `false`.
WITH step_spans AS (
    SELECT workspace_id, workflow_id, step_id, name, start_ns, step_status, retry_count, duration_ns, span_role
    FROM spans
    WHERE workspace_id = $workspace_id AND workflow_id = $workflow_id AND span_role = 'step'
      AND ({ranges})
    UNION ALL
    SELECT workspace_id, $workflow_id AS workflow_id, step_id, name, start_ns, step_status, retry_count,
           duration_ns, span_role
    FROM spans
    SEMI JOIN (
        SELECT execution_id FROM executions WHERE workspace_id = $workspace_id AND workflow_id = $workflow_id
    ) e USING (execution_id)
    WHERE {unnamed} AND workspace_id = $workspace_id AND workflow_id IS NULL AND span_role = 'step'
      AND start_ns >= $since AND start_ns < $until
)
SELECT step_id, runs, completed, failed, skipped, cancelled, retries, runs_with_retries, ran,
       ran_ns::DOUBLE AS ran_ns, ran_max_ns, total_ns::DOUBLE AS total_ns, first_start_ns, last_start_ns,
       last_name, histogram
FROM step_summary_rows(step_spans, 0, 18446744073709551615)
