-- The trace id range of each of the Parquet files $paths, from their footers' statistics (a
-- lake's files never change once written): storage/ducklake/key_ranges.py.
SELECT file_name, min(stats_min_value), max(stats_max_value)
FROM parquet_metadata($paths::VARCHAR[])
WHERE path_in_schema = 'trace_id'
GROUP BY file_name;
