SELECT workspace_id, execution_id FROM execution_cancels WHERE node_id = $node_id ORDER BY requested_ns
