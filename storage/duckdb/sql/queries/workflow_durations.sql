-- The newest $limit finished executions of one workflow begun in a window (the condition
-- storage/duckdb/began.py writes), narrow (for a duration-over-time chart), oldest first; and
-- how many there are in the window.
WITH finished AS (
    SELECT execution_id, execution_number, status, duration_seconds,
           began_ns AS began
    FROM executions
    WHERE workspace_id = $workspace_id AND workflow_id = $workflow_id AND status_rank = 3
      AND {began}
), newest AS (
    SELECT * FROM finished ORDER BY began DESC, execution_id DESC LIMIT $limit
)
SELECT execution_id, execution_number, status, began, duration_seconds,
       (SELECT count(*) FROM finished) AS total
FROM newest
ORDER BY began, execution_id;
