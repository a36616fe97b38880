-- Executions per UTC day (by began_ns: started, else queued) of every workflow of one
-- workspace since $trend_since, and how many of them failed (failed or timeout).
SELECT workflow_id,
       (began_ns // 86400000000000)::BIGINT AS day,
       count(*) AS executions,
       count(*) FILTER (WHERE status IN ('failed', 'timeout')) AS failed
FROM executions
WHERE workspace_id = $workspace_id AND began_ns >= $trend_since
GROUP BY ALL;
