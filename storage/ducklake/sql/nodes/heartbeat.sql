-- A node's heartbeat, unless a live node has taken it for dead.
UPDATE engine_nodes SET heartbeat_ns = $heartbeat_ns WHERE node_id = $node_id AND closed_by IS NULL
