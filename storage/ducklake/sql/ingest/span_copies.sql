-- Row ids of the copies of a batch's spans that another node committed too, while this one's
-- commit ran (storage/ducklake/writer.py `LakeWriter._repair`): of each (workspace, trace id,
-- span id) stored more than once, every copy but the first committed (lowest snapshot, then
-- row id) is listed. Every node that looks keeps the same copy, so two repairs agree.
-- {time_ranges}: the batch's start-time clusters (a copy has the same start time).
SELECT rowid
FROM (
    SELECT s.rowid,
           row_number() OVER (
               PARTITION BY s.workspace_id, s.trace_id, s.span_id ORDER BY s.snapshot_id, s.rowid
           ) AS copy
    FROM spans s
    SEMI JOIN repair_batch b USING (workspace_id, trace_id, span_id)
    WHERE {time_ranges}
)
WHERE copy > 1
