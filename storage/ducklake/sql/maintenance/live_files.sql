-- The Parquet data files and delete files the lake's current snapshot reads (DuckLake's
-- catalog tables, in the metadata database DuckLake attaches as __ducklake_metadata_<alias>).
SELECT
    (SELECT count(*) FROM __ducklake_metadata_lake.ducklake_data_file WHERE end_snapshot IS NULL),
    (SELECT count(*) FROM __ducklake_metadata_lake.ducklake_delete_file WHERE end_snapshot IS NULL)
