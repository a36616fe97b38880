-- One execution of the workspace (executions_execution_id index), or nothing.
SELECT execution_id, workflow_id, workflow_name, project_id, execution_number, status, status_rank,
       queued_ns, started_ns, ended_ns, duration_seconds, input_json, results_json, error_message,
       root_span_id, service_name
FROM executions
WHERE execution_id = $execution_id AND workspace_id = $workspace_id;
