-- One execution by id, among the executions of the workflows given (the workflow ids its
-- trace's spans or records name): the table is sorted by (workflow_id, workspace_id,
-- execution_id) in small row groups (lake migration 007), so this reads one row group where the
-- id alone (the file's execution.sql) scans every row group's ids. Columns as execution.sql.
SELECT workspace_id, execution_id, workflow_id, workflow_name, project_id, execution_number, status,
       status_rank, queued_ns, started_ns, ended_ns, duration_seconds, input_json, results_json,
       error_message, root_span_id, service_name
FROM executions
WHERE workflow_id IN (SELECT unnest($workflow_ids::VARCHAR[]))
  AND workspace_id = $workspace_id
  AND execution_id = $execution_id;
