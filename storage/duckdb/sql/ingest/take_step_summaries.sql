-- The stored step summary rows of the keys a batch's summary rows name, taken out of the
-- table: the writer merges them with the batch's (merge_step_summaries.sql) and inserts
-- the result in the same transaction.
DELETE FROM step_summaries
USING (SELECT DISTINCT workspace_id, workflow_id, step_id, day FROM step_batch) AS touched
WHERE step_summaries.workspace_id = touched.workspace_id
  AND step_summaries.workflow_id = touched.workflow_id
  AND step_summaries.step_id IS NOT DISTINCT FROM touched.step_id
  AND step_summaries.day = touched.day
RETURNING step_summaries.*
