INSERT INTO engine_nodes (node_id, host, pid, started_ns, heartbeat_ns)
VALUES ($node_id, $host, $pid, $now_ns, $now_ns)
