-- The log records the snapshots $snapshots inserted (as other_span_keys.sql): workspace and
-- content hash, the record's identity and its filter key (ingest/record_keys.sql).
SELECT snapshot_id, workspace_id, record_hash
FROM {inserted};
