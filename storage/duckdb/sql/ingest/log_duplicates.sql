-- Log records of the incoming batch not to insert: already stored (by content hash)
-- or repeated within the batch. A record's hash covers its whole content, its time
-- included, so a stored copy has the same time: only stored rows whose time falls
-- inside the batch's own times can match, and DuckDB's zone maps skip every other row
-- group, which keeps this check's cost independent of the table's size.
-- {time_ranges}: "time_ns BETWEEN ? AND ? OR ...", one range per cluster of the batch's
-- times, filled in by the writer (writer.time_ranges).
-- The batch's keys are MATERIALIZED (once, for both halves) so the join's key filter is
-- not pushed into the Arrow scan: DuckDB 1.5 hands a pushed-down IN filter on a UBIGINT
-- column to pyarrow, which fails on hashes >= 2^63 ("OverflowError: Python int too large
-- to convert to C long").
WITH b AS MATERIALIZED (
    SELECT workspace_id, record_hash FROM log_batch
)
SELECT 'stored' AS why, b.workspace_id, b.record_hash
FROM b
SEMI JOIN (
    SELECT workspace_id, record_hash
    FROM logs
    WHERE {time_ranges}
) s USING (workspace_id, record_hash)
UNION ALL
SELECT 'repeated' AS why, workspace_id, record_hash
FROM b
GROUP BY workspace_id, record_hash
HAVING count(*) > 1;
