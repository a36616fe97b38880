-- Take $count execution numbers of a workflow for every node of the lake (LakeCatalog
-- .take_execution_numbers): two nodes advancing counters at once both UPDATE `workflows`, and
-- DuckLake fails the second COMMIT ("Transaction conflict"), which runs again on the new state.
UPDATE workflows
SET next_execution_number = next_execution_number + $count
WHERE workspace_id = $workspace_id AND id = $workflow_id
