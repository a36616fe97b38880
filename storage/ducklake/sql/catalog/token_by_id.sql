SELECT id, workspace_id, role, name, server_admin, epoch_ns(created_at), epoch_ns(revoked_at)
FROM tokens WHERE id = $id
