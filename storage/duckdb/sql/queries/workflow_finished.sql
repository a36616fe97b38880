-- A workflow's finished executions begun in the windows {ranges} (storage/duckdb/began.py), from
-- the executions: the rows workflow_metrics.sql aggregates when no rollup serves the window.
SELECT status, duration_seconds
FROM executions
WHERE workspace_id = $workspace_id AND workflow_id = $workflow_id AND status_rank = 3 AND ({ranges})
