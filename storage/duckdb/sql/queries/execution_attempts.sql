-- The attempt spans of one execution of the workspace with their step: promoted columns
-- only (no blob decoding), so a Gantt of hundreds of steps costs one index lookup.
-- MATERIALIZED keeps the trace id the scan's only filter (see execution_spans.sql).
WITH trace AS MATERIALIZED (
    SELECT workspace_id, span_id, parent_span_id, span_role, step_id, step_status, start_ns, end_ns,
           status_message
    FROM spans
    WHERE trace_id = $execution_id
)
SELECT s.step_id, s.span_id, a.span_id, a.parent_span_id, a.start_ns, a.end_ns, a.step_status, a.status_message
FROM trace a
JOIN trace s ON s.span_id = a.parent_span_id AND s.span_role = 'step' AND s.workspace_id = $workspace_id
WHERE a.workspace_id = $workspace_id AND a.span_role = 'attempt'
ORDER BY s.start_ns, s.span_id, a.start_ns, a.span_id;
