-- A live node takes a dead one's executions to close, unless its row changed since it was read
-- (a heartbeat after all, or another node's claim). A takeover (the first claimer died) keeps
-- when it was first taken for dead.
UPDATE engine_nodes SET closed_by = $by, closed_ns = coalesce(closed_ns, $now_ns)
WHERE node_id = $node_id AND heartbeat_ns = $heartbeat_ns AND closed_by IS NOT DISTINCT FROM $closed_by
