-- When each execution was created, stored: the DuckDB file's migration 010, as it is (the
-- reasons are written there). On a lake the executions' row groups follow the workflow
-- (004_read_layout.sql), so the column's bound prunes less there.
ALTER TABLE executions ADD COLUMN created_ns UBIGINT;
UPDATE executions SET created_ns = coalesce(queued_ns, started_ns);
