-- The workflow spans of one execution of the workspace: root, steps, attempts. Blobs
-- only for the spans whose attributes are read (root and steps).
-- MATERIALIZED keeps the trace id the scan's only filter, so DuckDB uses the
-- spans_trace_id index; the workspace (and role) conditions apply to its few rows.
WITH trace AS MATERIALIZED (
    SELECT workspace_id, span_id, parent_span_id, span_role, name, step_id, step_status, retry_count,
           start_ns, end_ns, status_code, status_message, workflow_id, span
    FROM spans
    WHERE trace_id = $execution_id
)
SELECT span_id, parent_span_id, span_role, name, step_id, step_status, retry_count,
       start_ns, end_ns, status_code, status_message, workflow_id,
       CASE WHEN span_role IN ('execution', 'step') THEN span END AS span
FROM trace
WHERE workspace_id = $workspace_id AND span_role IS NOT NULL
ORDER BY start_ns, span_id;
