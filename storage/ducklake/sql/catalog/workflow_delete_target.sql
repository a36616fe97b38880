SELECT id FROM workflows WHERE workspace_id = $workspace_id AND id = $id
