-- The records of $event_names of the given executions.
SELECT record_hash, event_name, time_ns, trace_id, span_id, body, record
FROM logs
WHERE workspace_id = $workspace_id AND execution_id IN (SELECT unnest($execution_ids::VARCHAR[]))
  AND list_contains($event_names::VARCHAR[], event_name);
