SELECT node_id, host, pid, started_ns, heartbeat_ns, closed_by, closed_ns FROM engine_nodes ORDER BY started_ns, node_id
