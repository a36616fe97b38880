-- Execution numbers taken by the API (api/intake.py), persisted in the writer's transaction
-- that records those executions: the counter is never behind a stored execution's number.
-- greatest(): transactions may commit numbers of one workflow out of order.
UPDATE workflows
SET next_execution_number = greatest(workflows.next_execution_number, taken.next_number)
FROM (
    SELECT unnest($workspace_ids::VARCHAR[]) AS workspace_id,
           unnest($workflow_ids::VARCHAR[]) AS workflow_id,
           unnest($next_numbers::BIGINT[]) AS next_number
) AS taken
WHERE workflows.workspace_id = taken.workspace_id AND workflows.id = taken.workflow_id;
