SELECT count(*)
FROM executions
WHERE workspace_id = $workspace_id AND workflow_id = $workflow_id
  AND ($status IS NULL OR status = $status);
