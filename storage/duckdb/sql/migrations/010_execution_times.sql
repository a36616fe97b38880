-- When each execution was created (queued, else started: the executions list's order) and
-- when it began (started, else queued: the windows of metrics and step metrics), stored
-- (issue 11: reads at 10M spans). Computed from two columns, neither could be filtered or
-- ordered by a zone map:
-- - a list page's top-N read the sort keys of every one of the workflow's rows (~10 ms at 1M
--   executions). Ordered by a column, DuckDB's top-N filters the scan by the page's current
--   bound and skips the row groups whose zone map lies below it: rows are stored roughly in
--   the order they last changed (ingest takes an execution's row out and inserts it again), so
--   a page of the newest reads one or two row groups;
-- - a window's range was a filter evaluated on every one of the workflow's rows after the
--   scan, against row groups skipped before it.
-- Written by ingest/insert_executions.sql, the one insert of rows.
ALTER TABLE executions ADD COLUMN created_ns UBIGINT;
ALTER TABLE executions ADD COLUMN began_ns UBIGINT;
UPDATE executions SET created_ns = coalesce(queued_ns, started_ns), began_ns = coalesce(started_ns, queued_ns);
