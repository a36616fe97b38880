-- The stored summaries of the executions a batch has facts about ($execution_ids: each touched
-- id once; $keys: workspace_id || chr(0) || execution_id), which delete_executions.sql then
-- takes out of the table in the same transaction: the file's take_executions.sql is one
-- DELETE ... RETURNING, which DuckLake does not have.
SELECT *
FROM executions
WHERE execution_id IN (SELECT unnest($execution_ids::VARCHAR[]))
  AND list_contains($keys, workspace_id || chr(0) || execution_id)
