-- Take out the summaries stored_executions.sql read (same parameters, same transaction).
DELETE FROM executions
WHERE execution_id IN (SELECT unnest($execution_ids::VARCHAR[]))
  AND list_contains($keys, workspace_id || chr(0) || execution_id)
