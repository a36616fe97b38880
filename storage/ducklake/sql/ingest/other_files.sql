-- The Parquet files the snapshots $snapshots (between $first and $last) added to the tables
-- $tables, from the catalog in PostgreSQL, each with its path under this node's data path
-- $data_path by DuckLake's rule: a relative file path is under its table's path, a relative
-- table path under its schema's, a relative schema path under the data path. For
-- storage/ducklake/others.py, which reads the rows they inserted from these files directly
-- (inserted_in_files.sql) instead of through ducklake_table_insertions.
SELECT f.begin_snapshot AS snapshot_id,
       t.table_name,
       CASE WHEN NOT f.path_is_relative THEN f.path
            WHEN NOT t.path_is_relative THEN t.path || f.path
            WHEN NOT s.path_is_relative THEN s.path || t.path || f.path
            ELSE $data_path || s.path || t.path || f.path END AS path
FROM lake_catalog.public.ducklake_data_file AS f
JOIN lake_catalog.public.ducklake_table AS t ON t.table_id = f.table_id AND t.end_snapshot IS NULL
JOIN lake_catalog.public.ducklake_schema AS s ON s.schema_id = t.schema_id AND s.end_snapshot IS NULL
WHERE f.begin_snapshot BETWEEN $first AND $last
  AND list_contains($snapshots::BIGINT[], f.begin_snapshot)
  AND list_contains($tables::VARCHAR[], t.table_name);
