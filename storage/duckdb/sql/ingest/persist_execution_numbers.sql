-- Execution numbers taken by the API, persisted in the writer's transaction that records those
-- executions (a request's `execution_numbers`): a workflow's counter is never behind a stored
-- execution's number. greatest(): transactions may commit numbers of one workflow out of order.
-- Each (workspace, workflow) appears once in the lists (the writer keeps the largest number of
-- the transaction's requests: no GROUP BY here, which cost ~1 ms a commit).
UPDATE workflows
SET next_execution_number = greatest(workflows.next_execution_number, taken.next_number)
FROM (
    SELECT unnest($workspace_ids::VARCHAR[]) AS workspace_id,
           unnest($workflow_ids::VARCHAR[]) AS workflow_id,
           unnest($next_numbers::BIGINT[]) AS next_number
) AS taken
WHERE workflows.workspace_id = taken.workspace_id AND workflows.id = taken.workflow_id;
