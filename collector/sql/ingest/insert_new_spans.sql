-- The fast path of span ingest: insert the batch's spans that are not stored yet, in one
-- statement. Used when the batch holds no span twice; the writer compares the number of
-- rows inserted with the batch size, and if a span was stored before (an exporter retry)
-- it rolls back and takes the exact path (span_duplicates.sql, then insert_spans.sql).
-- {time_ranges}: as in span_duplicates.sql.
INSERT INTO spans BY NAME
SELECT b.*
FROM span_batch b
ANTI JOIN (
    SELECT workspace_id, trace_id, span_id
    FROM spans
    WHERE {time_ranges}
) s USING (workspace_id, trace_id, span_id);
