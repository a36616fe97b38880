-- The log records whose derived columns a rebuild found different, by row id (rebuild.py).
UPDATE logs
SET workflow_id = u.workflow_id, execution_id = u.execution_id, step_id = u.step_id
FROM update_batch u
WHERE logs.rowid = u.row_id;
