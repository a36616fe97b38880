-- The active token with this hash (every authenticated request asks: one indexed lookup).
SELECT id, workspace_id, role, name, server_admin, epoch_ns(created_at), epoch_ns(revoked_at)
FROM tokens
WHERE token_hash = $token_hash AND revoked_at IS NULL
