-- The stored step spans among (workspace, trace, span) keys joined with NUL ($keys), found
-- through the trace_id index ($traces): the writer compares each with the same span sent
-- again, which replaces it when it is a later try of the step (storage/later_tries.py).
-- workflow_id: the step summaries of the day a replaced try started on are marked stale;
-- step_id, retry_count: /metrics' retries counter takes back what a replaced try added.
SELECT workspace_id, trace_id, span_id, workflow_id, step_id, span_role, retry_count, step_status, start_ns, end_ns
FROM spans
WHERE trace_id IN (SELECT unnest($traces::VARCHAR[]))
  AND span_role = 'step'
  AND list_contains($keys, workspace_id || chr(0) || trace_id || chr(0) || span_id)
