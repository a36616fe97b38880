-- The workflow spans of one execution of the workspace: root, steps, attempts. Blobs
-- only for the spans whose attributes are read (root and steps).
-- MATERIALIZED keeps the trace id the scan's only filter, so DuckDB uses the
-- spans_trace_id index; the workspace (and role) conditions apply to its few rows.
-- The blobs are joined back by row id instead of being read in that index scan: read
-- there, each row decompresses a block of the ZSTD blob column (~0.5 ms a row, so 0.5 s
-- for a 500-step execution); by row id, the few row groups holding them are scanned once.
WITH trace AS MATERIALIZED (
    SELECT rowid AS rid, workspace_id, span_id, parent_span_id, span_role, name, step_id, step_status,
           retry_count, start_ns, end_ns, status_code, status_message, workflow_id, error_message
    FROM spans
    WHERE trace_id = $execution_id
), found AS (
    SELECT * FROM trace WHERE workspace_id = $workspace_id AND span_role IS NOT NULL
), blobs AS (
    SELECT rowid AS rid, span FROM spans
    WHERE rowid IN (SELECT rid FROM found WHERE span_role IN ('execution', 'step'))
)
SELECT f.span_id, f.parent_span_id, f.span_role, f.name, f.step_id, f.step_status, f.retry_count,
       f.start_ns, f.end_ns, f.status_code, f.status_message, f.workflow_id, f.error_message, b.span
FROM found f
LEFT JOIN blobs b ON b.rid = f.rid
ORDER BY f.start_ns, f.span_id;
