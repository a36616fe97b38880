-- The root span id an execution's queued/started records announced (logs_trace_id index).
SELECT arg_min(span_id, time_ns)
FROM logs
WHERE trace_id = $execution_id AND workspace_id = $workspace_id
  AND event_name IN ('workflow.execution.queued', 'workflow.execution.started') AND span_id <> '';
