-- The step summary rows of one workflow's whole UTC days [$first_day, $last_day) inside the
-- window [$since, $until) (migrations/006_step_summaries.sql), for the caller to merge per
-- step with the rows of the window's edges (step_metrics_edges.sql) in the same transaction
-- (storage/duckdb/step_summaries.py: step_totals). Every row, and the one row with no step
-- (runs NULL) when there are none, carries the total duration of the workflow's finished
-- executions started in the window (the denominator of a step's share of execution time).
SELECT s.*, w.workflow_time
FROM (
    SELECT sum(duration_seconds) AS workflow_time
    FROM executions
    WHERE workspace_id = $workspace_id AND workflow_id = $workflow_id AND status_rank = 3
      AND coalesce(started_ns, queued_ns) >= $since AND coalesce(started_ns, queued_ns) < $until
) w
LEFT JOIN (
    SELECT step_id, runs, completed, failed, skipped, cancelled, retries, runs_with_retries, ran,
           ran_ns::DOUBLE AS ran_ns, ran_max_ns, total_ns::DOUBLE AS total_ns, first_start_ns, last_start_ns,
           last_name, histogram
    FROM step_summaries
    WHERE workspace_id = $workspace_id AND workflow_id = $workflow_id AND day >= $first_day AND day < $last_day
) s ON true;
