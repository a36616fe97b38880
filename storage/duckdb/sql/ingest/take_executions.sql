-- The stored summaries of the executions a batch has facts about, taken out of the table:
-- the writer folds the batch's facts into them (storage/duckdb/execution_summaries.fold) and inserts
-- the results in the same transaction. Two short statements instead of one aggregate
-- over the union: planning that aggregate (an arg_max per column) cost ~10 ms a commit.
-- $execution_ids: the touched executions' ids, each once; $keys: workspace_id || chr(0) ||
-- execution_id of each touched execution (ids are unique only within a workspace).
-- The id list is the index's probe: DuckDB (2.0) looks `IN (SELECT unnest(...))` up in the
-- executions_execution_id ART index, while a join on the unnested (workspace, id) pairs
-- scanned the table (at 300k executions: 8.7 ms for one id, 24 ms for five, against 3-6 ms).
DELETE FROM executions
WHERE execution_id IN (SELECT unnest($execution_ids::VARCHAR[]))
  AND list_contains($keys, workspace_id || chr(0) || execution_id)
RETURNING *;
