-- Execution ids are trace ids: unique across workspaces.
DELETE FROM execution_cancels WHERE node_id = $node_id AND execution_id IN (SELECT unnest($execution_ids))
