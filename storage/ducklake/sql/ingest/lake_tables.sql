-- The lake's live tables by id, to read `changes_made` (other_snapshots.sql) by table name.
SELECT table_id, table_name
FROM lake_catalog.public.ducklake_table
WHERE end_snapshot IS NULL;
