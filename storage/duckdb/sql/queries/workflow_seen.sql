-- Whether this workspace has any execution of the workflow (for 404 on unknown workflows).
SELECT 1 FROM executions WHERE workspace_id = $workspace_id AND workflow_id = $workflow_id LIMIT 1;
