-- Open executions (pending or running) of every workspace, per workflow and status.
-- status_rank < 3 lets DuckDB skip row groups by their statistics: few rows are open.
SELECT workspace_id, workflow_id, status, count(*)
FROM executions
WHERE status_rank < 3
GROUP BY ALL;
