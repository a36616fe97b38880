-- The spans whose derived columns a rebuild found different, by row id (rebuild.py).
UPDATE spans
SET span_role = u.span_role, workflow_id = u.workflow_id, execution_id = u.execution_id,
    step_id = u.step_id, step_status = u.step_status, retry_count = u.retry_count,
    error_message = u.error_message
FROM update_batch u
WHERE spans.rowid = u.row_id;
