-- The rollups (migrations/008_step_rollups.sql) of the workflows whose hash falls in part
-- $part of $parts (as summarize_day.sql's), from all their summary rows: after that part of a
-- day was summarized; with one part, of every workflow (the rebuild). Each workflow's rows and
-- buckets are stored together (its reads skip the other workflows' vectors). Then their
-- finished executions' totals and durations (migrations/009_workflow_time_rollups.sql,
-- 011_workflow_duration_rollups.sql): run after
-- step_summaries_sealed says that part is done, which sets the days they cover.
DELETE FROM step_rollups WHERE hash(workspace_id, workflow_id) % $parts::UBIGINT = $part::UBIGINT;

DELETE FROM step_rollup_buckets WHERE hash(workspace_id, workflow_id) % $parts::UBIGINT = $part::UBIGINT;

INSERT INTO step_rollups
WITH part AS (
    SELECT * FROM step_summaries WHERE hash(workspace_id, workflow_id) % $parts::UBIGINT = $part::UBIGINT
)
SELECT * FROM step_rollup_rows(part) ORDER BY workspace_id, workflow_id, step_id;

INSERT INTO step_rollup_buckets
WITH part AS (
    SELECT * FROM step_summaries WHERE hash(workspace_id, workflow_id) % $parts::UBIGINT = $part::UBIGINT
)
SELECT * FROM step_rollup_bucket_rows(part) ORDER BY workspace_id, workflow_id, step_id, b;

DELETE FROM workflow_time_rollups WHERE hash(workspace_id, workflow_id) % $parts::UBIGINT = $part::UBIGINT;

INSERT INTO workflow_time_rollups
WITH part AS (
    SELECT * FROM executions WHERE hash(workspace_id, workflow_id) % $parts::UBIGINT = $part::UBIGINT
)
SELECT * FROM workflow_time_rollup_rows(part) ORDER BY workspace_id, workflow_id;

DELETE FROM workflow_duration_rollups WHERE hash(workspace_id, workflow_id) % $parts::UBIGINT = $part::UBIGINT;

INSERT INTO workflow_duration_rollups
WITH part AS (
    SELECT * FROM executions WHERE hash(workspace_id, workflow_id) % $parts::UBIGINT = $part::UBIGINT
)
SELECT * FROM workflow_duration_rollup_rows(part) ORDER BY workspace_id, workflow_id
