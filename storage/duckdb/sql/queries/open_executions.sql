-- Executions of our engine (by service name) still pending or running: at startup
-- these were left open by a process that died.
SELECT workspace_id, execution_id, workflow_id, workflow_name, project_id, execution_number,
       coalesce(started_ns, queued_ns) AS start_ns, root_span_id
FROM executions
WHERE status_rank < 3 AND service_name = $service_name;
