-- Executions of one workflow still running or pending, created in [$since, $until).
-- status_rank < 3 lets DuckDB skip row groups by their statistics: few rows are open.
SELECT
    count(*) FILTER (WHERE status = 'running') AS running,
    count(*) FILTER (WHERE status = 'pending') AS pending
FROM executions
WHERE workspace_id = $workspace_id AND workflow_id = $workflow_id AND status_rank < 3
  AND coalesce(started_ns, queued_ns) >= $since AND coalesce(started_ns, queued_ns) < $until;
