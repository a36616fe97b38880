SELECT node_id, host, pid, started_ns, heartbeat_ns, closed_by, closed_ns FROM engine_nodes WHERE node_id = $node_id
