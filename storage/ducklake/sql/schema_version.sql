-- The migrations applied (storage/duckdb/schema.py), without the file's PRIMARY KEY (DuckLake
-- has none: one node migrates at a time).
CREATE TABLE IF NOT EXISTS schema_version (
    version     INTEGER NOT NULL,
    name        VARCHAR NOT NULL,
    applied_at  TIMESTAMPTZ NOT NULL DEFAULT now()
)
