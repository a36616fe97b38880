-- The root span id an execution's queued/started records announced (see
-- execution_lifecycle.sql for why MATERIALIZED).
WITH trace AS MATERIALIZED (
    SELECT span_id, time_ns, workspace_id, event_name FROM logs WHERE trace_id = $execution_id
)
SELECT arg_min(span_id, time_ns)
FROM trace
WHERE workspace_id = $workspace_id
  AND event_name IN ('workflow.execution.queued', 'workflow.execution.started') AND span_id <> '';
