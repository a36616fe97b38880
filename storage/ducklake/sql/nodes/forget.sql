DELETE FROM engine_nodes WHERE node_id = $node_id
