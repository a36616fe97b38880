-- Log records of the incoming batch not to insert: already stored (by content hash)
-- or repeated within the batch. Same reasoning as span_duplicates.sql: a resent
-- record keeps its time. {time_ranges}: "time_ns BETWEEN ? AND ? OR ...", filled in
-- by the writer (writer.time_ranges).
SELECT 'stored' AS why, b.workspace_id, b.record_hash
FROM log_batch b
SEMI JOIN (
    SELECT workspace_id, record_hash
    FROM logs
    WHERE {time_ranges}
) s USING (workspace_id, record_hash)
UNION ALL
SELECT 'repeated' AS why, workspace_id, record_hash
FROM log_batch
GROUP BY workspace_id, record_hash
HAVING count(*) > 1;
