-- One page of a workflow's executions, newest first (created_ns: queued, else started;
-- ties by row). $status NULL = any status. Ordered by the stored column, not the expression:
-- the top-N then skips row groups (migrations/010_execution_times.sql).
-- In two steps: order only the narrow sort key (and row id) of the workflow's rows,
-- then read the full rows of the page. Sorting whole rows (JSON inputs and results)
-- to skip 10,000 of them costs several times more.
WITH page AS (
    SELECT rowid AS rid, created_ns AS created
    FROM executions
    WHERE workspace_id = $workspace_id AND workflow_id = $workflow_id
      AND ($status IS NULL OR status = $status)
    ORDER BY created DESC, rid DESC
    LIMIT $limit OFFSET $skip
)
SELECT e.execution_id, e.workflow_id, e.workflow_name, e.project_id, e.execution_number, e.status,
       e.status_rank, e.queued_ns, e.started_ns, e.ended_ns, e.duration_seconds, e.input_json,
       e.results_json, e.error_message, e.root_span_id, e.service_name
FROM executions e
JOIN page p ON e.rowid = p.rid
ORDER BY p.created DESC, p.rid DESC;
