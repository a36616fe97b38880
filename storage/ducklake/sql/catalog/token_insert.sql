-- A new active token (no RETURNING in DuckLake: token_by_id.sql reads it back; no UNIQUE
-- either: token_hash_taken.sql checks first, under the catalog's write lock).
INSERT INTO tokens (id, token_hash, workspace_id, role, name, server_admin)
VALUES ($id, $token_hash, $workspace_id, $role, $name, $server_admin)
