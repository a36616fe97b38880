-- The spans of the given traces ({placeholders}: one `?` per trace id), at most `max_spans`
-- of each (the root spans, then the earliest to start, so the top of the tree stays whole),
-- with each trace's span count and row id. Parameters: the trace ids, the workspace, max_spans.
-- Without the blobs: the reader fetches them by row id (span_blobs.sql; 20 traces of 10 spans
-- at 10M spans: p50 ~106-142 ms with the blobs here, ~37 ms in two reads).
-- The id lookup is a MATERIALIZED CTE on purpose: DuckDB (2.0) uses the trace_id ART
-- index only when the id is the scan's sole filter; with the workspace condition in the
-- same scan it reads the whole table (see execution.sql).
WITH found AS MATERIALIZED (
    SELECT workspace_id, trace_id, span_id, parent_span_id, resource_id, scope_id, start_ns, rowid AS row_id
    FROM spans WHERE trace_id IN ({placeholders})
), ranked AS (
    SELECT *,
           row_number() OVER (PARTITION BY trace_id ORDER BY parent_span_id <> '', start_ns, span_id) AS n,
           count(*) OVER (PARTITION BY trace_id) AS total
    FROM found
    WHERE workspace_id = ?
)
SELECT trace_id, span_id, parent_span_id, resource_id, scope_id, row_id, total FROM ranked
WHERE n <= ?
ORDER BY trace_id, start_ns, span_id;
