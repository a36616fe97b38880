-- The summary rows of the (workspace, workflow)s marked stale on day $day, taken out before
-- resummarize_stale.sql recomputes them (same transaction).
DELETE FROM step_summaries
USING (SELECT DISTINCT workspace_id, workflow_id FROM step_summaries_stale WHERE day = $day) AS s
WHERE step_summaries.workspace_id = s.workspace_id AND step_summaries.workflow_id = s.workflow_id
  AND step_summaries.day = $day
