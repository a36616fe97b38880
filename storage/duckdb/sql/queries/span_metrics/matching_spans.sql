-- The spans of a span-metrics query (spliced into span_count and window_stats, no trailing
-- semicolon): of the listed services and kinds, ended in (first window's start, last time].
-- A series is a service, or a service and span name when grouped by operation.
SELECT service_name,
       CASE WHEN $by_operation THEN name END AS operation,
       end_ns,
       duration_ns,
       status_code
FROM spans
WHERE workspace_id = $workspace_id
  AND list_contains($services, service_name)
  AND list_contains($kinds, kind)
  AND end_ns > $first_ns - $window_ns
  AND end_ns <= $last_ns
