-- Service names with spans in the workspace, sorted.
SELECT DISTINCT service_name FROM spans WHERE workspace_id = $workspace_id ORDER BY service_name;
