-- Every stored span, in storage order (spans of one request are adjacent, so batches group
-- well by resource and scope without a sort of the blobs): row id, the request's keys, the
-- bytes, the span's identity and the columns ingest derived from the bytes (rebuild.SPAN_DERIVED).
SELECT rowid, workspace_id, resource_id, scope_id, span,
       trace_id, span_id,
       span_role, workflow_id, execution_id, step_id, step_status, retry_count, error_message
FROM spans;
