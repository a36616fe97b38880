"""The Jaeger reader's SQL, one named statement per question. Every query filters by workspace first."""

SERVICES = """
SELECT DISTINCT service_name FROM spans WHERE workspace_id = ? ORDER BY service_name
"""

OPERATIONS = """
SELECT DISTINCT name, kind FROM spans
WHERE workspace_id = ? AND service_name = ?
ORDER BY name, kind
"""

# Search without tag filters: the newest traces with a matching span, newest first.
MATCHING_TRACES = """
SELECT trace_id, max(start_ns) AS newest FROM spans
WHERE workspace_id = ? AND service_name = ? AND start_ns BETWEEN ? AND ? {filters}
GROUP BY trace_id
ORDER BY newest DESC
LIMIT ?
"""

# Search with tag filters: candidate spans, newest first, a page at a time (the tags
# live in the span's protobuf bytes, so they are matched in Python).
CANDIDATE_SPANS = """
SELECT trace_id, resource_id, scope_id, span FROM spans
WHERE workspace_id = ? AND service_name = ? AND start_ns BETWEEN ? AND ? {filters}
ORDER BY start_ns DESC, trace_id, span_id  -- a total order: pages neither skip nor repeat rows
LIMIT ? OFFSET ?
"""

# The spans of the given traces, at most `max_spans` of each (the root spans, then the
# earliest to start, so the top of the tree stays whole), with each trace's span count.
# The id lookup is a MATERIALIZED CTE on purpose: DuckDB (2.0) uses the trace_id ART
# index only when the id is the scan's sole filter; with the workspace condition in the
# same scan it reads the whole table (api/sql/execution.sql).
TRACE_SPANS = """
WITH found AS MATERIALIZED (
    SELECT workspace_id, trace_id, span_id, parent_span_id, resource_id, scope_id, start_ns, span
    FROM spans WHERE trace_id IN ({placeholders})
), ranked AS (
    SELECT *,
           row_number() OVER (PARTITION BY trace_id ORDER BY parent_span_id <> '', start_ns, span_id) AS n,
           count(*) OVER (PARTITION BY trace_id) AS total
    FROM found
    WHERE workspace_id = ?
)
SELECT trace_id, span_id, parent_span_id, resource_id, scope_id, span, total FROM ranked
WHERE n <= ?
ORDER BY trace_id, start_ns, span_id
"""

RESOURCES = "SELECT id, any_value(resource) FROM resources WHERE id IN ({placeholders}) GROUP BY id"
SCOPES = "SELECT id, any_value(scope) FROM scopes WHERE id IN ({placeholders}) GROUP BY id"

# Service-to-service calls: a span whose parent belongs to another service.
DEPENDENCIES = """
SELECT parent.service_name AS parent, child.service_name AS child, count(*) AS call_count
FROM spans AS child
JOIN spans AS parent
  ON parent.workspace_id = child.workspace_id
 AND parent.trace_id = child.trace_id
 AND parent.span_id = child.parent_span_id
WHERE child.workspace_id = ? AND child.parent_span_id <> ''
  AND child.start_ns BETWEEN ? AND ?
  AND parent.service_name <> child.service_name
GROUP BY ALL
ORDER BY parent, child
"""
