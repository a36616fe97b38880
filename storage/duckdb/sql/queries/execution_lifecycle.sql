-- The log records of one trace (an execution's id), in every workspace, with their blobs:
-- the reader keeps its workspace's lifecycle records (their attributes name and order
-- running steps) and `flowscope.execution.triggered` records, and orders them
-- (storage/duckdb/executions.py). The trace id is the scan's
-- sole filter so that DuckDB uses the logs_trace_id index (see execution.sql).
SELECT workspace_id, event_name, time_ns, record_hash, span_id, step_id, record, rowid
FROM logs
WHERE trace_id = $execution_id;
