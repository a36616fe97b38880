-- The resources of the records a service emitted for these executions (its queued record
-- exists before an execute is answered, and every later record names the same node): the
-- engine's carry the node's service.instance.id. Only records from $since_ns on: the lake has
-- no index, and the bound lets DuckLake skip older files by their time statistics.
SELECT DISTINCT l.workspace_id, l.execution_id, r.resource
FROM logs l JOIN resources r ON r.id = l.resource_id
WHERE l.service_name = $service_name AND l.time_ns >= $since_ns
  AND l.execution_id IN (SELECT unnest($execution_ids))
