-- Aggregates of one workflow's executions created in [$since, $until). Duration
-- statistics are over finished executions (status_rank 3: completed, failed,
-- cancelled, timeout); running/pending are counted separately.
SELECT
    count(*) FILTER (WHERE status_rank = 3)                              AS total,
    count(*) FILTER (WHERE status = 'completed')                         AS completed,
    count(*) FILTER (WHERE status = 'failed')                            AS failed,
    count(*) FILTER (WHERE status = 'timeout')                           AS timeout,
    count(*) FILTER (WHERE status = 'cancelled')                         AS cancelled,
    count(*) FILTER (WHERE status = 'running')                           AS running,
    count(*) FILTER (WHERE status = 'pending')                           AS pending,
    coalesce(sum(duration_seconds) FILTER (WHERE status_rank = 3), 0)    AS total_duration,
    avg(duration_seconds) FILTER (WHERE status_rank = 3)                 AS avg_duration,
    min(duration_seconds) FILTER (WHERE status_rank = 3)                 AS min_duration,
    max(duration_seconds) FILTER (WHERE status_rank = 3)                 AS max_duration,
    quantile_cont(duration_seconds, [0.5, 0.9, 0.95, 0.99]) FILTER (WHERE status_rank = 3) AS quantiles
FROM executions
WHERE workspace_id = $workspace_id AND workflow_id = $workflow_id
  AND coalesce(started_ns, queued_ns) >= $since AND coalesce(started_ns, queued_ns) < $until;
