-- The catalog tables holding table $table's inlined rows (one per schema version), in the
-- metadata database DuckLake attaches as __ducklake_metadata_lake.
SELECT i.table_name
FROM __ducklake_metadata_lake.ducklake_inlined_data_tables i
JOIN __ducklake_metadata_lake.ducklake_table t ON t.table_id = i.table_id AND t.end_snapshot IS NULL
WHERE t.table_name = $table
