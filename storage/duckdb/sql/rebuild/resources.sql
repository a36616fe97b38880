-- Every stored resource, to rebuild export requests from stored spans and records (rebuild.py).
SELECT id, resource, schema_url FROM resources;
