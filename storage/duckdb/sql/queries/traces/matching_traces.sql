-- Search without tags: the newest traces with a span meeting every criterion, newest first.
-- A criterion left NULL does not filter.
SELECT trace_id, max(start_ns) AS newest FROM spans
WHERE workspace_id = $workspace_id AND service_name = $service AND start_ns BETWEEN $start_ns AND $end_ns
  AND ($operation IS NULL OR name = $operation)
  AND ($min_duration_ns IS NULL OR duration_ns >= $min_duration_ns)
  AND ($max_duration_ns IS NULL OR duration_ns <= $max_duration_ns)
GROUP BY trace_id
ORDER BY newest DESC
LIMIT $limit;
