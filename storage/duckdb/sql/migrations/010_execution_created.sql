-- When each execution was created (queued, else started: the order of the executions list),
-- stored (issue 11: executions list at 10M spans). Ordered by the expression, a page's top-N
-- read the sort keys of every one of the workflow's rows (at 1M executions ~10 ms). Ordered by
-- a column, DuckDB's top-N filters the scan by the page's current bound and skips the row
-- groups whose zone map lies below it: rows are stored roughly in the order they last changed
-- (ingest takes an execution's row out and inserts it again), so a page of the newest reads
-- one or two row groups. Written by ingest/insert_executions.sql, the one insert of rows.
ALTER TABLE executions ADD COLUMN created_ns UBIGINT;
UPDATE executions SET created_ns = coalesce(queued_ns, started_ns);
