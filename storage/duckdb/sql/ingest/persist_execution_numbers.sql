-- Execution numbers taken by the API, persisted in the writer's transaction that records those
-- executions (a request's `execution_numbers`): a workflow's counter is never behind a stored
-- execution's number. greatest(): transactions may commit numbers of one workflow out of order.
-- One statement per workspace: $workflow_ids and $next_numbers pair up (each workflow once;
-- the writer keeps the largest number of the transaction's requests). The lists are filtered
-- and indexed in place: a join on their unnested rows cost ~1 ms more a commit.
UPDATE workflows
SET next_execution_number = greatest(next_execution_number, $next_numbers[list_position($workflow_ids, id)])
WHERE workspace_id = $workspace_id AND list_contains($workflow_ids, id);
