-- Of the executions a batch folded facts into (`execution_keys`, as in stored_executions.sql),
-- those stored as more than one row: two nodes each inserted a summary for it in commits that
-- ran at the same time.
SELECT workspace_id, execution_id
FROM executions
SEMI JOIN execution_keys USING (workspace_id, execution_id)
GROUP BY workspace_id, execution_id
HAVING count(*) > 1
