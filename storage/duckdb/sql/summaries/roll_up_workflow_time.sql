-- Every workflow's finished executions' totals and durations (migrations/009_workflow_time_rollups.sql,
-- 011_workflow_duration_rollups.sql) again,
-- from the executions table: after retention (it deletes executions by their end, and moves the
-- first day the totals cover) and after the execution rows were rebuilt.
DELETE FROM workflow_time_rollups;

INSERT INTO workflow_time_rollups
SELECT * FROM workflow_time_rollup_rows(executions) ORDER BY workspace_id, workflow_id;

DELETE FROM workflow_duration_rollups;

INSERT INTO workflow_duration_rollups
SELECT * FROM workflow_duration_rollup_rows(executions) ORDER BY workspace_id, workflow_id
