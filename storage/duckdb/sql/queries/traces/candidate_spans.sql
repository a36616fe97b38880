-- Search with tags: the spans meeting every other criterion, newest first, a page at a time
-- (tags live in the span's protobuf bytes, so they are matched in Python after decoding).
-- A criterion left NULL does not filter.
SELECT trace_id, span_id, parent_span_id, resource_id, scope_id, span FROM spans
WHERE workspace_id = $workspace_id AND service_name = $service AND start_ns BETWEEN $start_ns AND $end_ns
  AND ($operation IS NULL OR name = $operation)
  AND ($min_duration_ns IS NULL OR duration_ns >= $min_duration_ns)
  AND ($max_duration_ns IS NULL OR duration_ns <= $max_duration_ns)
ORDER BY start_ns DESC, trace_id, span_id  -- a total order: pages neither skip nor repeat rows
LIMIT $limit OFFSET $offset;
