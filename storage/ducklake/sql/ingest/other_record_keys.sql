-- The log records the snapshots $snapshots inserted (as other_span_keys.sql): workspace and
-- content hash, the record's identity and its filter key (ingest/record_keys.sql).
SELECT snapshot_id, workspace_id, record_hash
FROM ducklake_table_insertions(current_database(), 'main', 'logs', $first, $last)
WHERE list_contains($snapshots::BIGINT[], snapshot_id);
