-- Lifecycle log records of one execution (logs_trace_id index), oldest first, with the
-- record blob (its attributes name and order running steps).
SELECT time_ns, event_name, span_id, step_id, record
FROM logs
WHERE trace_id = $execution_id AND workspace_id = $workspace_id
  AND event_name IN ('workflow.execution.queued', 'workflow.execution.started',
                     'workflow.step.started', 'workflow.step.retrying')
ORDER BY time_ns, record_hash;
