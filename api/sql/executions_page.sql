-- One page of a workflow's executions, newest first (created = queued, else started).
-- $status NULL = any status.
SELECT execution_id, workflow_id, workflow_name, project_id, execution_number, status, status_rank,
       queued_ns, started_ns, ended_ns, duration_seconds, input_json, results_json, error_message,
       root_span_id, service_name
FROM executions
WHERE workspace_id = $workspace_id AND workflow_id = $workflow_id
  AND ($status IS NULL OR status = $status)
ORDER BY coalesce(queued_ns, started_ns) DESC, execution_id DESC
LIMIT $limit OFFSET $skip;
