-- The blobs of some spans of one trace, by row id (rows that execution_spans.sql read in the
-- same snapshot). The trace id lets DuckDB reach the rows through the spans_trace_id index;
-- by row id alone it scans every row group's ids (~2 ms more at 1M spans).
SELECT rowid, span
FROM spans
WHERE trace_id = $execution_id
  AND rowid IN (SELECT unnest($rowids::BIGINT[]));
