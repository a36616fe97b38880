DELETE FROM execution_cancels WHERE node_id = $node_id
