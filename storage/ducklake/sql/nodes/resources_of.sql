-- The resources of the records a service emitted for these executions (its queued record
-- exists before an execute is answered): the engine's carry the node's service.instance.id.
SELECT DISTINCT l.workspace_id, l.execution_id, r.resource
FROM logs l JOIN resources r ON r.id = l.resource_id
WHERE l.service_name = $service_name AND l.execution_id IN (SELECT unnest($execution_ids))
