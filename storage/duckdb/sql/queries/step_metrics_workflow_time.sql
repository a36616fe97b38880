-- One workflow's step metrics, last read (step_summary_reads.py): the total duration of its
-- finished executions begun (started, else queued) in the ranges {ranges}: the whole window,
-- or the parts of it its rollup (migrations/009_workflow_time_rollups.sql) leaves out. Each
-- range [lo, hi) is a constant on began_ns, whose zone maps skip the row groups of executions
-- that all began outside it (a range from today on reads ~1 ms at 1M executions, against
-- ~10-15 ms for a filter on coalesce(started_ns, queued_ns)). Read alone, or after
-- step_metrics_unnamed.sql (UNION ALL BY NAME) when the summary state is kept.
SELECT 'time' AS part, sum(duration_seconds) AS seconds
FROM executions
WHERE workspace_id = $workspace_id AND workflow_id = $workflow_id AND status_rank = 3 AND ({ranges})
