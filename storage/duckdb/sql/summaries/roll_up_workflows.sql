-- The rollups (migrations/008_step_rollups.sql) of the (workspace, workflow)s given
-- ($workspace_ids, $workflow_ids: one per position), from all their summary rows: after their
-- stale days were summarized again, or retention dropped some of their days; then their finished
-- executions' totals and durations (migrations/009_workflow_time_rollups.sql,
-- 011_workflow_duration_rollups.sql).
DELETE FROM step_rollups
USING (SELECT unnest($workspace_ids::VARCHAR[]) AS workspace_id, unnest($workflow_ids::VARCHAR[]) AS workflow_id) k
WHERE step_rollups.workspace_id = k.workspace_id AND step_rollups.workflow_id = k.workflow_id;

DELETE FROM step_rollup_buckets
USING (SELECT unnest($workspace_ids::VARCHAR[]) AS workspace_id, unnest($workflow_ids::VARCHAR[]) AS workflow_id) k
WHERE step_rollup_buckets.workspace_id = k.workspace_id AND step_rollup_buckets.workflow_id = k.workflow_id;

INSERT INTO step_rollups
WITH these AS (
    SELECT * FROM step_summaries
    SEMI JOIN (
        SELECT unnest($workspace_ids::VARCHAR[]) AS workspace_id, unnest($workflow_ids::VARCHAR[]) AS workflow_id
    ) k USING (workspace_id, workflow_id)
)
SELECT * FROM step_rollup_rows(these) ORDER BY workspace_id, workflow_id, step_id;

INSERT INTO step_rollup_buckets
WITH these AS (
    SELECT * FROM step_summaries
    SEMI JOIN (
        SELECT unnest($workspace_ids::VARCHAR[]) AS workspace_id, unnest($workflow_ids::VARCHAR[]) AS workflow_id
    ) k USING (workspace_id, workflow_id)
)
SELECT * FROM step_rollup_bucket_rows(these) ORDER BY workspace_id, workflow_id, step_id, b;

DELETE FROM workflow_time_rollups
USING (SELECT unnest($workspace_ids::VARCHAR[]) AS workspace_id, unnest($workflow_ids::VARCHAR[]) AS workflow_id) k
WHERE workflow_time_rollups.workspace_id = k.workspace_id AND workflow_time_rollups.workflow_id = k.workflow_id;

INSERT INTO workflow_time_rollups
WITH these AS (
    SELECT * FROM executions
    SEMI JOIN (
        SELECT unnest($workspace_ids::VARCHAR[]) AS workspace_id, unnest($workflow_ids::VARCHAR[]) AS workflow_id
    ) k USING (workspace_id, workflow_id)
)
SELECT * FROM workflow_time_rollup_rows(these) ORDER BY workspace_id, workflow_id;

DELETE FROM workflow_duration_rollups
USING (SELECT unnest($workspace_ids::VARCHAR[]) AS workspace_id, unnest($workflow_ids::VARCHAR[]) AS workflow_id) k
WHERE workflow_duration_rollups.workspace_id = k.workspace_id AND workflow_duration_rollups.workflow_id = k.workflow_id;

INSERT INTO workflow_duration_rollups
WITH these AS (
    SELECT * FROM executions
    SEMI JOIN (
        SELECT unnest($workspace_ids::VARCHAR[]) AS workspace_id, unnest($workflow_ids::VARCHAR[]) AS workflow_id
    ) k USING (workspace_id, workflow_id)
)
SELECT * FROM workflow_duration_rollup_rows(these) ORDER BY workspace_id, workflow_id
