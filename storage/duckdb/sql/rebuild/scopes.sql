-- Every stored instrumentation scope, to rebuild export requests (rebuild.py).
SELECT id, scope, schema_url FROM scopes;
