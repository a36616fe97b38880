-- One page of a workflow's executions, newest first, as the file's executions_page.sql, with
-- the number of all the workflow's matching executions (the file's executions_count.sql) on
-- every row: one statement where the file runs two. On a lake each statement pays DuckLake's
-- catalog work (~3.5 ms: its snapshot, files and statistics) and scans the workflow's row
-- groups again; at 10M spans the count alone took 9-11 ms, the page 23-34 ms, and this 17-30.
-- A page past the end has no row to carry the count: the caller counts then.
WITH matching AS (
    SELECT rowid AS rid, created_ns AS created, count(*) OVER () AS total
    FROM executions
    WHERE workspace_id = $workspace_id AND workflow_id = $workflow_id
      AND ($status IS NULL OR status = $status)
), page AS (
    SELECT * FROM matching ORDER BY created DESC, rid DESC LIMIT $limit OFFSET $skip
)
SELECT e.execution_id, e.workflow_id, e.workflow_name, e.project_id, e.execution_number, e.status,
       e.status_rank, e.queued_ns, e.started_ns, e.ended_ns, e.duration_seconds, e.input_json,
       e.results_json, e.error_message, e.root_span_id, e.service_name, p.total
FROM executions e
JOIN page p ON e.rowid = p.rid
WHERE e.workspace_id = $workspace_id AND e.workflow_id = $workflow_id
ORDER BY p.created DESC, p.rid DESC;
