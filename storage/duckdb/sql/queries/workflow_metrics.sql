-- One workflow's executions begun in a window: aggregates over the finished ones (status_rank
-- 3: completed, failed, cancelled, timeout), the rows of workflow_finished.sql, or those of
-- workflow_finished_rolled.sql where the durations rollup holds some of the window's days
-- (storage/duckdb/step_summary_reads.py `finished_executions`), and how many are still running or
-- pending, begun in the window (by storage/duckdb/began.py's condition on began_ns, which
-- the scan filters by zone map: migrations/010_execution_times.sql). One statement, so both
-- parts read one committed state.
-- Finished: one pass with plain aggregates, much cheaper here than FILTER clauses on every
-- column. Open: status_rank < 3 lets DuckDB skip row groups by their statistics (few rows
-- are open).
WITH finished_rows AS (
{finished}
), finished AS (
    SELECT
        count(*)                                                  AS total,
        sum((status = 'completed')::INTEGER)                      AS completed,
        sum((status = 'failed')::INTEGER)                         AS failed,
        sum((status = 'timeout')::INTEGER)                        AS timeout,
        sum((status = 'cancelled')::INTEGER)                      AS cancelled,
        coalesce(sum(duration_seconds), 0)                        AS total_duration,
        avg(duration_seconds)                                     AS avg_duration,
        min(duration_seconds)                                     AS min_duration,
        max(duration_seconds)                                     AS max_duration,
        quantile_cont(duration_seconds, [0.5, 0.9, 0.95, 0.99])   AS quantiles
    FROM finished_rows
), open AS (
    SELECT
        count(*) FILTER (WHERE status = 'running') AS running,
        count(*) FILTER (WHERE status = 'pending') AS pending
    FROM executions
    WHERE workspace_id = $workspace_id AND workflow_id = $workflow_id AND status_rank < 3
      AND {began}
)
SELECT finished.*, open.* FROM finished, open;
