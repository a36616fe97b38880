-- The workflow spans (labels.py: spans with a role) that the snapshots $snapshots inserted,
-- from DuckLake's change feed between the first and the last of them (its insertions, also
-- of rows deleted since: a third of table_changes' time, which computes deletions too); the
-- columns of storage/duckdb/sql/queries/replay/workflow_spans.sql after snapshot and workspace.
SELECT snapshot_id, workspace_id,
       trace_id, span_id, parent_span_id, name, span_role, start_ns, end_ns, status_code,
       status_message, span
FROM ducklake_table_insertions(current_database(), 'main', 'spans', $first, $last)
WHERE span_role IS NOT NULL
  AND list_contains($snapshots::BIGINT[], snapshot_id)
ORDER BY snapshot_id, rowid;
