SELECT id FROM projects WHERE workspace_id = $workspace_id AND id = $id
