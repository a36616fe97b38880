-- The retry counts of stored step spans, by (workspace, trace, span) keys joined with NUL
-- ($keys), found through the trace_id index ($traces): the writer compares them with a step
-- span sent again (a later try of the same step replaces the stored one).
SELECT workspace_id, trace_id, span_id, retry_count
FROM spans
WHERE trace_id IN (SELECT unnest($traces))
  AND span_role = 'step'
  AND list_contains($keys, workspace_id || chr(0) || trace_id || chr(0) || span_id)
