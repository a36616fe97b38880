-- The blobs of some log records, by row id (rows that execution_lifecycle_columns.sql or
-- execution_logs.sql read in the same snapshot): a scan of their row-id range, as span_blobs.sql.
SELECT rowid, record
FROM logs
WHERE rowid BETWEEN $first AND $last
  AND list_contains($rowids::BIGINT[], rowid);
