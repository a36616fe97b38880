-- The workflow's next execution number, read in the transaction that advances it
-- (numbers_take.sql): no row, no workflow (deleted), no numbers.
SELECT next_execution_number FROM workflows WHERE workspace_id = $workspace_id AND id = $workflow_id
