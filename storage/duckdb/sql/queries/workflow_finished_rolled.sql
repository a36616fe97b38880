-- A workflow's finished executions begun in a window that holds every day of its durations
-- rollup (migrations/011_workflow_duration_rollups.sql), none of them stale: the rollup's rows,
-- and the executions begun in the rest of the window, {ranges} (the days outside the rollup's,
-- as began_ns ranges whose zone maps skip the row groups of older executions).
SELECT status, duration_seconds
FROM workflow_duration_rollups
WHERE workspace_id = $workspace_id AND workflow_id = $workflow_id
UNION ALL
SELECT status, duration_seconds
FROM executions
WHERE workspace_id = $workspace_id AND workflow_id = $workflow_id AND status_rank = 3 AND ({ranges})
