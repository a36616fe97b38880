-- One execution of the workspace, or nothing.
-- The lookup by id is a MATERIALIZED CTE on purpose: DuckDB (2.0) uses the ART index
-- (executions_execution_id) only when the id is the scan's sole filter; with the
-- workspace condition pushed into the same scan it reads the whole table.
WITH found AS MATERIALIZED (
    SELECT workspace_id, execution_id, workflow_id, workflow_name, project_id, execution_number, status,
           status_rank, queued_ns, started_ns, ended_ns, duration_seconds, input_json, results_json,
           error_message, root_span_id, service_name
    FROM executions
    WHERE execution_id = $execution_id
)
SELECT execution_id, workflow_id, workflow_name, project_id, execution_number, status, status_rank,
       queued_ns, started_ns, ended_ns, duration_seconds, input_json, results_json, error_message,
       root_span_id, service_name
FROM found
WHERE workspace_id = $workspace_id;
