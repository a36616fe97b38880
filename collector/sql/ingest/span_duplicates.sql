-- Rows of the incoming batch not to insert: spans already stored (exporter retries)
-- and spans repeated within the batch itself. Empty in the common case.
-- A retried span carries its original start time, so only stored rows whose start
-- falls inside the batch's own start times can match: DuckDB's zone maps skip every
-- other row group, which keeps this check's cost independent of the table's size.
-- {time_ranges}: "start_ns BETWEEN ? AND ? OR ...", one range per cluster of the
-- batch's start times (writer.time_ranges), filled in by the writer.
SELECT 'stored' AS why, b.workspace_id, b.trace_id, b.span_id
FROM span_batch b
SEMI JOIN (
    SELECT workspace_id, trace_id, span_id
    FROM spans
    WHERE {time_ranges}
) s USING (workspace_id, trace_id, span_id)
UNION ALL
SELECT 'repeated' AS why, workspace_id, trace_id, span_id
FROM span_batch
GROUP BY workspace_id, trace_id, span_id
HAVING count(*) > 1;
