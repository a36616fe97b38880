-- The workflow log records (labels.py: records with an execution id) that the snapshots
-- $snapshots inserted, from DuckLake's change feed between the first and the last of them
-- (as in workflow_spans.sql); the columns of storage/duckdb/sql/queries/replay/lifecycle_records.sql
-- after snapshot and workspace.
SELECT snapshot_id, workspace_id,
       record_hash, event_name, time_ns, trace_id, span_id, body, record
FROM ducklake_table_insertions(current_database(), 'main', 'logs', $first, $last)
WHERE coalesce(execution_id, '') <> ''
  AND list_contains($snapshots::BIGINT[], snapshot_id)
ORDER BY snapshot_id, rowid;
