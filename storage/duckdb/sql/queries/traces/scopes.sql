-- Stored instrumentation scopes by id ({placeholders}: one `?` per id): their bytes and schema URL.
SELECT id, any_value(scope), any_value(schema_url) FROM scopes WHERE id IN ({placeholders}) GROUP BY id;
