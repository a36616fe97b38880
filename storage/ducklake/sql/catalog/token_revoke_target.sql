SELECT id FROM tokens WHERE workspace_id = $workspace_id AND id = $id AND revoked_at IS NULL
