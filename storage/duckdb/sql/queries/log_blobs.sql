-- The blobs of some log records of one trace, by row id (rows that execution_lifecycle_columns.sql
-- read in the same snapshot; $first and $last are the least and greatest of $rowids): a scan
-- of that row-id range, for the reason span_blobs.sql gives.
SELECT rowid, record
FROM logs
WHERE rowid BETWEEN $first AND $last
  AND list_contains($rowids::BIGINT[], rowid);
