-- One workflow's executions begun in a window (the condition storage/duckdb/began.py writes on
-- began_ns, which the scan filters by zone map: migrations/010_execution_times.sql):
-- aggregates over the finished ones (status_rank 3: completed, failed, cancelled, timeout) and
-- how many are still running or pending. One statement, so both parts read one committed state.
-- Finished: one pass with plain aggregates, much cheaper here than FILTER clauses on every
-- column. Open: status_rank < 3 lets DuckDB skip row groups by their statistics (few rows
-- are open).
WITH finished AS (
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
    FROM executions
    WHERE workspace_id = $workspace_id AND workflow_id = $workflow_id AND status_rank = 3
      AND {began}
), open AS (
    SELECT
        count(*) FILTER (WHERE status = 'running') AS running,
        count(*) FILTER (WHERE status = 'pending') AS pending
    FROM executions
    WHERE workspace_id = $workspace_id AND workflow_id = $workflow_id AND status_rank < 3
      AND {began}
)
SELECT finished.*, open.* FROM finished, open;
