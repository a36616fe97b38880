-- The execution and step spans (not attempts) of the given executions.
SELECT trace_id, span_id, parent_span_id, name, span_role, start_ns, end_ns, status_code,
       status_message, span
FROM spans
WHERE workspace_id = $workspace_id AND execution_id IN (SELECT unnest($execution_ids::VARCHAR[]))
  AND span_role IN ('execution', 'step');
