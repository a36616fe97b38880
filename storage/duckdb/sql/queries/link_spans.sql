-- The spans of the trace a link names, in every workspace, without their blobs: the reader
-- keeps its workspace's workflow spans and looks for the linked one among them
-- (storage/duckdb/executions.py `link_target`). The trace id is the scan's sole filter so that
-- DuckDB uses the spans_trace_id index (see execution.sql).
SELECT workspace_id, span_id, span_role, step_id
FROM spans
WHERE trace_id = $trace_id;
