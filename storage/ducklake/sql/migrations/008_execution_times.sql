-- When each execution was created and began, stored: the DuckDB file's migration 010 (the
-- reasons are written there). On a lake the executions' row groups follow the workflow
-- (004_read_layout.sql), so the columns' bounds skip fewer of them there.
-- The table is made again with the columns rather than altered: after `ALTER TABLE executions
-- ADD COLUMN`, DuckLake (0.x with DuckDB 1.5.5) fails `ducklake_table_insertions` over
-- snapshots whose files `flowscope maintain` merged ("Attempted to access index 0 within
-- vector of size 0": tests/storage/test_lake_follow.py), which every node's writer reads.
CREATE TABLE executions_with_times (
    workspace_id      VARCHAR NOT NULL,
    execution_id      VARCHAR NOT NULL,
    workflow_id       VARCHAR NOT NULL,
    workflow_name     VARCHAR,
    project_id        VARCHAR,
    execution_number  BIGINT,
    status            VARCHAR NOT NULL,
    status_rank       UTINYINT NOT NULL, -- 1 pending, 2 running, 3 terminal
    queued_ns         UBIGINT,
    started_ns        UBIGINT,
    ended_ns          UBIGINT,
    duration_seconds  DOUBLE,
    input_json        VARCHAR,
    results_json      VARCHAR,
    error_message     VARCHAR,
    root_span_id      VARCHAR,
    service_name      VARCHAR,
    updated_ns        UBIGINT NOT NULL,
    created_ns        UBIGINT,
    began_ns          UBIGINT
);
INSERT INTO executions_with_times BY NAME
SELECT *, coalesce(queued_ns, started_ns) AS created_ns, coalesce(started_ns, queued_ns) AS began_ns
FROM executions;
DROP TABLE executions;
ALTER TABLE executions_with_times RENAME TO executions;
-- Its layout is set again by 009_execution_layout.sql (not on a table made in the same transaction).
