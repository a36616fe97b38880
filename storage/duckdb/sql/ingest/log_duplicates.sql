-- Log records of the incoming batch not to insert: already stored (by content hash)
-- or repeated within the batch. A record's hash covers its whole content, its time
-- included, so a stored copy has the same time: only stored rows whose time falls
-- inside the batch's own times can match, and DuckDB's zone maps skip every other row
-- group, which keeps this check's cost independent of the table's size.
-- {time_ranges}: "time_ns BETWEEN ? AND ? OR ...", one range per cluster of the batch's
-- times, filled in by the writer (writer.time_ranges).
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
