-- One workflow's step metrics, second read (step_summary_reads.py): the summary rows of the
-- days [$first_day, $last_day) but $stale_days (summarized, whole in the window: the caller
-- computed them from step_metrics_state.sql's answer in the same transaction).
SELECT step_id, runs, completed, failed, skipped, cancelled, retries, runs_with_retries, ran,
       ran_ns::DOUBLE AS ran_ns, ran_max_ns, total_ns::DOUBLE AS total_ns, first_start_ns, last_start_ns,
       last_name, histogram
FROM step_summaries
WHERE workspace_id = $workspace_id AND workflow_id = $workflow_id AND day >= $first_day AND day < $last_day
  AND NOT list_contains($stale_days::INTEGER[], day)
