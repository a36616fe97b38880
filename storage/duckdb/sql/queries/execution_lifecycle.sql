-- Lifecycle log records of one execution of the workspace, oldest first, with the
-- record blob (its attributes name and order running steps).
-- MATERIALIZED: the trace id alone filters the scan, so the logs_trace_id index is used.
WITH trace AS MATERIALIZED (
    SELECT time_ns, event_name, span_id, step_id, record_hash, workspace_id, record
    FROM logs WHERE trace_id = $execution_id
)
SELECT time_ns, event_name, span_id, step_id, record
FROM trace
WHERE workspace_id = $workspace_id
  AND event_name IN ('workflow.execution.queued', 'workflow.execution.started',
                     'workflow.step.started', 'workflow.step.retrying')
ORDER BY time_ns, record_hash;
