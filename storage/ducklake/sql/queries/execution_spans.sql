-- The spans of one trace (an execution's trace id is its id), in every workspace, as the
-- file's execution_spans.sql, and in the same scan the blobs the details read needs (the
-- workspace's root and step spans: executions.py span_blob_read): a lake has no index, so a
-- second read of the blobs by row id (the file's span_blobs.sql) scans the trace's row group
-- of every file again (at 10M spans: 4 files, ~30 ms of a details read's ~170 ms CPU).
-- $blob_roles: executions.py BLOB_ROLES.
SELECT rowid, workspace_id, span_id, parent_span_id, span_role, name, step_id, step_status, retry_count,
       start_ns, end_ns, status_code, status_message, workflow_id, error_message,
       CASE WHEN workspace_id = $workspace_id AND list_contains($blob_roles, span_role) THEN span END AS span
FROM spans
WHERE trace_id = $execution_id;
