-- One row that every write checking a uniqueness (a workspace slug, a token hash) advances in
-- its transaction: DuckLake has no UNIQUE, and two nodes' inserts commit side by side, but two
-- transactions updating one table conflict, so the later of two such writes fails at COMMIT and
-- runs again, when it finds the other's row (storage/ducklake/catalog.py). The lake's alone:
-- the file has UNIQUE (tests/storage/test_lake_schema.py names it).
CREATE TABLE catalog_serial (writes BIGINT NOT NULL);
INSERT INTO catalog_serial VALUES (0);
