-- Stored resources by id ({placeholders}: one `?` per id): their bytes and schema URL.
SELECT id, any_value(resource), any_value(schema_url) FROM resources WHERE id IN ({placeholders}) GROUP BY id;
