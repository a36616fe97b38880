-- execution_lifecycle.sql without the record blob (whose read costs a decompression):
-- enough for a finished execution.
WITH trace AS MATERIALIZED (
    SELECT time_ns, event_name, span_id, step_id, record_hash, workspace_id
    FROM logs WHERE trace_id = $execution_id
)
SELECT time_ns, event_name, span_id, step_id, NULL AS record
FROM trace
WHERE workspace_id = $workspace_id
  AND event_name IN ('workflow.execution.queued', 'workflow.execution.started',
                     'workflow.step.started', 'workflow.step.retrying')
ORDER BY time_ns, record_hash;
