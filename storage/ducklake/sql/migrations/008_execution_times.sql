-- When each execution was created and began, stored: the DuckDB file's migration 010, as it is
-- (the reasons are written there). On a lake the executions' row groups follow the workflow
-- (004_read_layout.sql), so the columns' bounds skip fewer of them there.
ALTER TABLE executions ADD COLUMN created_ns UBIGINT;
ALTER TABLE executions ADD COLUMN began_ns UBIGINT;
UPDATE executions SET created_ns = coalesce(queued_ns, started_ns), began_ns = coalesce(started_ns, queued_ns);
