-- One execution by id, among the executions of the workflows its trace's log records name
-- (its lifecycle records: the queued record the API commits with a trigger is there at once):
-- as execution_in_workflows.sql, the workflow ids found by the records' own read (logs are
-- sorted by trace id: one row group of each file). Columns as the file's execution.sql.
SELECT workspace_id, execution_id, workflow_id, workflow_name, project_id, execution_number, status,
       status_rank, queued_ns, started_ns, ended_ns, duration_seconds, input_json, results_json,
       error_message, root_span_id, service_name
FROM executions
WHERE workflow_id IN (
        SELECT workflow_id FROM logs
        WHERE trace_id = $execution_id AND workspace_id = $workspace_id AND workflow_id IS NOT NULL
    )
  AND workspace_id = $workspace_id
  AND execution_id = $execution_id;
