-- One workflow's step metrics, second read when its rollup serves (step_summary_reads.py): the
-- rollup rows, one per step (migrations/008_step_rollups.sql), as step_metrics_summaries.sql's
-- columns but the histogram (step_metrics_rollup_buckets.sql).
SELECT step_id, runs, completed, failed, skipped, cancelled, retries, runs_with_retries, ran,
       ran_ns::DOUBLE AS ran_ns, ran_max_ns, total_ns::DOUBLE AS total_ns, first_start_ns, last_start_ns,
       last_name
FROM step_rollups
WHERE workspace_id = $workspace_id AND workflow_id = $workflow_id
