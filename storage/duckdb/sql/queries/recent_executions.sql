-- The newest $limit executions of one workspace, of any workflow or of $workflow_ids (empty:
-- any), with any status or $status (NULL: any), newest first (Grafana's executions table);
-- equal times by execution id, so the LIMIT cuts the same rows on every call and store.
SELECT execution_id, workflow_id, workflow_name, execution_number, status,
       coalesce(started_ns, queued_ns) AS started_ns, ended_ns, duration_seconds, error_message
FROM executions
WHERE workspace_id = $workspace_id
  AND (len($workflow_ids::VARCHAR[]) = 0 OR list_contains($workflow_ids::VARCHAR[], workflow_id))
  AND ($status::VARCHAR IS NULL OR status = $status::VARCHAR)
ORDER BY coalesce(started_ns, queued_ns, updated_ns) DESC, execution_id DESC
LIMIT $limit;
