-- The stored summaries of the executions a batch has facts about, taken out of the table:
-- the writer folds the batch's facts into them (storage/duckdb/execution_summaries.fold) and inserts
-- the results in the same transaction. Two short statements instead of one aggregate
-- over the union: planning that aggregate (an arg_max per column) cost ~10 ms a commit.
-- $workspace_ids[i], $execution_ids[i]: the touched executions.
DELETE FROM executions
USING (
    SELECT unnest($workspace_ids::VARCHAR[]) AS workspace_id,
           unnest($execution_ids::VARCHAR[]) AS execution_id
) AS touched
WHERE executions.workspace_id = touched.workspace_id
  AND executions.execution_id = touched.execution_id
RETURNING executions.*;
