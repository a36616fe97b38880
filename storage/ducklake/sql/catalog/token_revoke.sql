UPDATE tokens SET revoked_at = now()
WHERE workspace_id = $workspace_id AND id = $id AND revoked_at IS NULL
