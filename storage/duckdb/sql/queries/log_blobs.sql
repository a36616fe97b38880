-- The blobs of some log records of one trace, by row id (rows that execution_lifecycle_columns.sql
-- read in the same snapshot). The trace id lets DuckDB reach the rows through the logs_trace_id
-- index (see span_blobs.sql).
SELECT rowid, record
FROM logs
WHERE trace_id = $execution_id
  AND rowid IN (SELECT unnest($rowids::BIGINT[]));
