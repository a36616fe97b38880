-- Delete stored spans by (workspace, trace, span) keys joined with NUL ($keys), found through
-- the trace_id index ($traces): earlier tries of steps that a later try replaces.
DELETE FROM spans
WHERE trace_id IN (SELECT unnest($traces))
  AND list_contains($keys, workspace_id || chr(0) || trace_id || chr(0) || span_id)
