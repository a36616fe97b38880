INSERT INTO execution_cancels (workspace_id, execution_id, node_id, requested_ns)
VALUES ($workspace_id, $execution_id, $node_id, $now_ns)
