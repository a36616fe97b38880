-- The workspace's tokens, revoked ones included, oldest first.
SELECT id, workspace_id, role, name, server_admin, epoch_ns(created_at), epoch_ns(revoked_at)
FROM tokens
WHERE workspace_id = $workspace_id
ORDER BY created_at, id
