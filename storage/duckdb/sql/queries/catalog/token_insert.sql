-- A new active token; the UNIQUE token_hash refuses a stored hash.
INSERT INTO tokens (id, token_hash, workspace_id, role, name, server_admin)
VALUES ($id, $token_hash, $workspace_id, $role, $name, $server_admin)
RETURNING id, workspace_id, role, name, server_admin, epoch_ns(created_at), epoch_ns(revoked_at)
