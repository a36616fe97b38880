-- Search without tags: the newest traces with a span meeting every criterion, newest first.
-- A criterion left NULL does not filter. Equal times go by trace id (as candidate_spans.sql's):
-- without a total order two calls may list tied traces, or cut the LIMIT, differently (they
-- did on the DuckLake store, whose scans of several files return ties in varying order).
SELECT trace_id, max(start_ns) AS newest FROM spans
WHERE workspace_id = $workspace_id AND service_name = $service AND start_ns BETWEEN $start_ns AND $end_ns
  AND ($operation IS NULL OR name = $operation)
  AND ($min_duration_ns IS NULL OR duration_ns >= $min_duration_ns)
  AND ($max_duration_ns IS NULL OR duration_ns <= $max_duration_ns)
GROUP BY trace_id
ORDER BY newest DESC, trace_id
LIMIT $limit;
