-- Stored resources by id ({placeholders}: one `?` per id).
SELECT id, any_value(resource) FROM resources WHERE id IN ({placeholders}) GROUP BY id;
