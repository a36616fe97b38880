-- The first stale day and up to $limit of its (workspace, workflow)s: one maintenance run.
SELECT workspace_id, workflow_id, day
FROM step_summaries_stale
WHERE day = (SELECT min(day) FROM step_summaries_stale)
ORDER BY workspace_id, workflow_id
LIMIT $limit
