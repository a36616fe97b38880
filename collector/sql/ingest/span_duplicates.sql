-- Rows of the incoming batch not to insert: spans already stored (exporter retries)
-- and spans repeated within the batch itself. Empty in the common case.
-- A retried span carries its original start time, so only stored rows whose start
-- falls inside the batch's own start range can match: DuckDB's zone maps skip every
-- other row group, which keeps this check's cost independent of the table's size.
-- $1, $2: min and max start_ns of the batch.
SELECT 'stored' AS why, b.workspace_id, b.trace_id, b.span_id
FROM span_batch b
SEMI JOIN (
    SELECT workspace_id, trace_id, span_id
    FROM spans
    WHERE start_ns BETWEEN $1 AND $2
) s USING (workspace_id, trace_id, span_id)
UNION ALL
SELECT 'repeated' AS why, workspace_id, trace_id, span_id
FROM span_batch
GROUP BY workspace_id, trace_id, span_id
HAVING count(*) > 1;
