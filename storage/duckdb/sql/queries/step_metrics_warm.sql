-- The workflows with an execution begun (began_ns: started, else queued) since $since, the most
-- recent first, at most $limit: those whose step metrics step_warming.py keeps ready. The zone
-- maps of began_ns skip the older row groups.
SELECT workspace_id, workflow_id
FROM executions
WHERE began_ns >= $since AND workflow_id IS NOT NULL
GROUP BY workspace_id, workflow_id
ORDER BY max(began_ns) DESC
LIMIT $limit
