-- The rows the writer folded (exec_batch: storage/duckdb/execution_summaries.py's columns),
-- with when each was created (queued, else started) and began (started, else queued):
-- migrations/010_execution_times.sql.
INSERT INTO executions BY NAME
SELECT *, coalesce(queued_ns, started_ns) AS created_ns, coalesce(started_ns, queued_ns) AS began_ns
FROM exec_batch;
