-- The rows the writer folded (exec_batch: storage/duckdb/execution_summaries.py's columns),
-- with when each was created: queued, else started (migrations/010_execution_created.sql).
INSERT INTO executions BY NAME
SELECT *, coalesce(queued_ns, started_ns) AS created_ns FROM exec_batch;
