-- Delete stored spans by (workspace, trace, span) keys joined with NUL ($keys), found through
-- the trace_id index ($traces; DuckDB looks `IN (SELECT unnest(...))` up in the index, as in
-- take_executions.sql): earlier tries of steps that a later try replaces.
DELETE FROM spans
WHERE trace_id IN (SELECT unnest($traces::VARCHAR[]))
  AND list_contains($keys, workspace_id || chr(0) || trace_id || chr(0) || span_id)
