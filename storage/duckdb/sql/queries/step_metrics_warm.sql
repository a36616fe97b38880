-- The workflows with an execution begun (started, else queued) since $since, the most recent
-- first, at most $limit: those whose step metrics step_warming.py keeps ready. The condition on
-- each column besides the coalesce lets the zone maps skip the older row groups
-- (step_metrics_workflow_time.sql).
SELECT workspace_id, workflow_id
FROM executions
WHERE (started_ns >= $since OR queued_ns >= $since) AND coalesce(started_ns, queued_ns) >= $since
  AND workflow_id IS NOT NULL
GROUP BY workspace_id, workflow_id
ORDER BY max(coalesce(started_ns, queued_ns)) DESC
LIMIT $limit
