-- Of the candidate spans (those the Bloom filter may have seen), the ones stored with a
-- start time inside the candidates' own start-time clusters. That is where an exporter
-- retry finds its stored copy (a retry keeps its start time), and DuckDB's zone maps turn
-- it into a scan of a few row groups whatever the table size.
-- {time_ranges}: "start_ns BETWEEN ? AND ? OR ...", filled in by the writer (writer.time_ranges).
SELECT c.workspace_id, c.trace_id, c.span_id
FROM candidate_batch c
SEMI JOIN (
    SELECT workspace_id, trace_id, span_id
    FROM spans
    WHERE {time_ranges}
) s USING (workspace_id, trace_id, span_id)
