-- A summary of each of the given traces ({placeholders}: one `?` per trace id) from its span
-- columns, every span counted. Parameters: the trace ids, the workspace. Rows in no order.
-- The root is the earliest-starting span without a parent (ties by span id); an orphan is a
-- span whose parent span is not in the trace; an error span has status code 2 (ERROR).
-- The id lookup is a MATERIALIZED CTE for the trace_id index (see trace_spans.sql).
WITH found AS MATERIALIZED (
    SELECT workspace_id, trace_id, span_id, parent_span_id, name, service_name, start_ns, end_ns, status_code
    FROM spans WHERE trace_id IN ({placeholders})
), trace_spans AS (
    SELECT * FROM found WHERE workspace_id = ?
), totals AS (
    SELECT trace_id,
           coalesce(min_by(service_name, (start_ns, span_id)) FILTER (WHERE parent_span_id = ''), '') AS root_service,
           coalesce(min_by(name, (start_ns, span_id)) FILTER (WHERE parent_span_id = ''), '') AS root_operation,
           min(start_ns) AS start_ns, max(end_ns) AS end_ns,
           count(*) AS span_count, count_if(status_code = 2) AS error_span_count
    FROM trace_spans GROUP BY trace_id
), orphans AS (
    SELECT child.trace_id, count(*) AS orphan_span_count
    FROM trace_spans AS child
    ANTI JOIN trace_spans AS parent ON parent.trace_id = child.trace_id AND parent.span_id = child.parent_span_id
    WHERE child.parent_span_id <> ''
    GROUP BY child.trace_id
), per_service AS (
    SELECT trace_id, service_name, count(*) AS span_count, count_if(status_code = 2) AS error_span_count
    FROM trace_spans GROUP BY trace_id, service_name
), services AS (
    SELECT trace_id,
           list(struct_pack(name := service_name, spans := span_count, errors := error_span_count)
                ORDER BY service_name) AS services
    FROM per_service GROUP BY trace_id
)
SELECT totals.trace_id, root_service, root_operation, start_ns, end_ns, span_count, error_span_count,
       coalesce(orphan_span_count, 0), services
FROM totals JOIN services USING (trace_id) LEFT JOIN orphans USING (trace_id);
