-- Executions per UTC day (by coalesce(started_ns, queued_ns)) of every workflow of one
-- workspace since $trend_since, and how many of them failed (failed or timeout).
SELECT workflow_id,
       (coalesce(started_ns, queued_ns) // 86400000000000)::BIGINT AS day,
       count(*) AS executions,
       count(*) FILTER (WHERE status IN ('failed', 'timeout')) AS failed
FROM executions
WHERE workspace_id = $workspace_id AND coalesce(started_ns, queued_ns) >= $trend_since
GROUP BY ALL;
