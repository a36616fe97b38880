-- Of the executions a batch folded facts into, those stored as more than one row: two nodes
-- each inserted a summary for it in commits that ran at the same time ($execution_ids, $keys
-- as in stored_executions.sql).
SELECT workspace_id, execution_id
FROM executions
WHERE execution_id IN (SELECT unnest($execution_ids::VARCHAR[]))
  AND list_contains($keys, workspace_id || chr(0) || execution_id)
GROUP BY workspace_id, execution_id
HAVING count(*) > 1
