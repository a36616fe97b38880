-- The blobs of some spans, by row id (rows an earlier read of the same snapshot found; $first
-- and $last are the least and greatest of $rowids): a scan of that row-id range, not an index
-- fetch per row (storage/duckdb/blobs.py says why). At 10M spans, an execution's 10 blobs:
-- p50 ~4.5 -> ~2 ms; a range of 500k rows with 10 wanted in it ~3 ms (blocks without a wanted
-- row are skipped).
SELECT rowid, span
FROM spans
WHERE rowid BETWEEN $first AND $last
  AND list_contains($rowids::BIGINT[], rowid);
