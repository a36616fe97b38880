-- The (workspace, workflow)s whose rollups hold a day up to $day: those retention changes
-- (it drops the summary rows of those days, then rolls them up again: roll_up_workflows.sql).
SELECT DISTINCT workspace_id, workflow_id FROM step_rollups WHERE first_day <= $day ORDER BY ALL
