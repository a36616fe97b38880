-- The workflow spans of one execution (spans_trace_id index): root, steps, attempts.
-- Blobs only for the spans whose attributes are read (root and steps).
SELECT span_id, parent_span_id, span_role, name, step_id, step_status, retry_count,
       start_ns, end_ns, status_code, status_message, workflow_id,
       CASE WHEN span_role IN ('execution', 'step') THEN span END AS span
FROM spans
WHERE trace_id = $execution_id AND workspace_id = $workspace_id AND span_role IS NOT NULL
ORDER BY start_ns, span_id;
