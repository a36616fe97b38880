-- The spans of one trace (an execution's trace id is its id), in every workspace, without
-- their blobs: the reader keeps its workspace's workflow spans (root, steps, attempts), orders
-- them, and reads the blobs it needs by row id (span_blobs.sql).
-- The trace id is the scan's sole filter so that DuckDB uses the spans_trace_id index (see
-- execution.sql). A blob read in this scan decompresses a block of the ZSTD column per row
-- (~0.5 ms), also for the rows the reader drops.
SELECT rowid, workspace_id, span_id, parent_span_id, span_role, name, step_id, step_status, retry_count,
       start_ns, end_ns, status_code, status_message, workflow_id, error_message
FROM spans
WHERE trace_id = $execution_id;
