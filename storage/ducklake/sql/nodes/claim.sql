-- A live node takes a dead one's executions to close, unless its row changed since it was read
-- (a heartbeat after all, or another node's claim).
UPDATE engine_nodes SET closed_by = $by
WHERE node_id = $node_id AND heartbeat_ns = $heartbeat_ns AND closed_by IS NOT DISTINCT FROM $closed_by
