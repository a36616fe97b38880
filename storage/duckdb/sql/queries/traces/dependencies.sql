-- Service-to-service calls: a span whose parent belongs to another service, by the child
-- span's start in [start_ns, end_ns].
SELECT parent.service_name AS parent, child.service_name AS child, count(*) AS call_count
FROM spans AS child
JOIN spans AS parent
  ON parent.workspace_id = child.workspace_id
 AND parent.trace_id = child.trace_id
 AND parent.span_id = child.parent_span_id
WHERE child.workspace_id = $workspace_id AND child.parent_span_id <> ''
  AND child.start_ns BETWEEN $start_ns AND $end_ns
  AND parent.service_name <> child.service_name
GROUP BY ALL
ORDER BY parent, child;
