-- Stored instrumentation scopes by id ({placeholders}: one `?` per id).
SELECT id, any_value(scope) FROM scopes WHERE id IN ({placeholders}) GROUP BY id;
