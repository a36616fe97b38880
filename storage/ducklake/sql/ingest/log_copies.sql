-- Row ids of the copies of a batch's log records that another node committed too (as
-- span_copies.sql, by content hash): every copy but the first committed.
-- {time_ranges}: the batch's time clusters (a copy has the same time: the hash covers it).
WITH b AS MATERIALIZED (
    SELECT DISTINCT workspace_id, record_hash FROM repair_batch
)
SELECT rowid
FROM (
    SELECT l.rowid,
           row_number() OVER (
               PARTITION BY l.workspace_id, l.record_hash ORDER BY l.snapshot_id, l.rowid
           ) AS copy
    FROM logs l
    SEMI JOIN b USING (workspace_id, record_hash)
    WHERE {time_ranges}
)
WHERE copy > 1
