-- The trace id range of each of the Parquet files $paths and the newest time in it (column
-- $time_column), from their footers' statistics (a lake's files never change once written):
-- storage/ducklake/key_ranges.py.
SELECT file_name,
       min(stats_min_value) FILTER (WHERE path_in_schema = 'trace_id'),
       max(stats_max_value) FILTER (WHERE path_in_schema = 'trace_id'),
       max(TRY_CAST(stats_max_value AS UBIGINT)) FILTER (WHERE path_in_schema = $time_column)
FROM parquet_metadata($paths::VARCHAR[])
WHERE path_in_schema IN ('trace_id', $time_column)
GROUP BY file_name;
