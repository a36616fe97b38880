-- The blobs of some spans of one trace, by row id (rows that execution_spans.sql read in the
-- same snapshot; $first and $last are the least and greatest of $rowids).
-- A scan of that row-id range, not the spans_trace_id index: an index lookup fetches each row
-- on its own and decompresses a ZSTD block of the blob column per row (~0.4 ms), while the
-- scan tests the row ids first and decompresses each block that holds a wanted row once.
-- At 10M spans, an execution's 10 blobs: p50 ~4.5 -> ~2 ms; a range of 500k rows with 10
-- wanted in it ~3 ms (blocks without a wanted row are skipped).
SELECT rowid, span
FROM spans
WHERE rowid BETWEEN $first AND $last
  AND list_contains($rowids::BIGINT[], rowid);
