-- One workflow's step metrics, first read (step_summary_reads.py): its summary state, what the
-- caller needs to split a window between the summaries and the spans, and the days and total
-- of the workflow's finished executions' rollup (the denominator of a step's share of
-- execution time: migrations/009_workflow_time_rollups.sql), in the caller's read
-- transaction, as rows (`part`, `lo`, `hi`, `seconds`), the same for any window (kept per
-- workflow by summary_cache.py; when not kept, read with step_metrics_unnamed.sql after it):
-- - 'sealed': the first unsealed day and retention's cutoff day (migrations/007_step_summaries.sql);
-- - 'time': the first and last day of the workflow's executions total, and that total;
-- - 'stale': each stale day of the workflow (late runs since it was summarized);
-- - 'rolled': the first and last day its rollup holds (migrations/008_step_rollups.sql; NULLs
--   without one).
-- One UNION of simple SELECTs: as scalar subqueries of one row (cross products) it planned
-- in ~2x the time (join ordering); one combining these with the summary rows planned to
-- ~5x their cost.
SELECT 'sealed' AS part, until_day AS lo, floor_day AS hi FROM step_summaries_sealed
UNION ALL BY NAME
SELECT 'time' AS part, from_day AS lo, until_day AS hi, duration_seconds AS seconds
FROM workflow_time_rollups WHERE workspace_id = $workspace_id AND workflow_id = $workflow_id
UNION ALL BY NAME
SELECT 'stale' AS part, day AS lo
FROM step_summaries_stale WHERE workspace_id = $workspace_id AND workflow_id = $workflow_id
UNION ALL BY NAME
SELECT 'rolled' AS part, min(first_day) AS lo, max(last_day) AS hi
FROM step_rollups WHERE workspace_id = $workspace_id AND workflow_id = $workflow_id
