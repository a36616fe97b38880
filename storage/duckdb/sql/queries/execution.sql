-- One execution by id, in every workspace that has that id: the reader keeps its own
-- workspace's row (storage/duckdb/executions.py).
-- The id is the scan's sole filter on purpose: DuckDB (2.0) uses the ART index
-- (executions_execution_id) only then; with the workspace condition in the same scan it
-- reads the whole table, and wrapping the lookup in a MATERIALIZED CTE costs ~1 ms a read.
SELECT workspace_id, execution_id, workflow_id, workflow_name, project_id, execution_number, status,
       status_rank, queued_ns, started_ns, ended_ns, duration_seconds, input_json, results_json,
       error_message, root_span_id, service_name
FROM executions
WHERE execution_id = $execution_id;
