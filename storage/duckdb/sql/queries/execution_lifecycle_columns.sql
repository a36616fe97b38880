-- execution_lifecycle.sql without the record blob (whose read costs a decompression):
-- enough for a finished execution; the few blobs it needs are read by row id (log_blobs.sql).
SELECT workspace_id, event_name, time_ns, record_hash, span_id, step_id, NULL AS record, rowid
FROM logs
WHERE trace_id = $execution_id;
