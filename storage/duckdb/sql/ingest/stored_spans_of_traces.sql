-- Of the remaining candidate spans, the ones stored at any start time: the stored spans of
-- their traces, found through the trace_id index. Only candidates the time window did not
-- explain get here (Bloom filter false positives, ids resent with another start time), so
-- the lookup is rare and small. MATERIALIZED keeps the trace id the scan's only filter, so
-- DuckDB uses the spans_trace_id index. {placeholders}: one "?" per trace id.
WITH stored AS MATERIALIZED (
    SELECT workspace_id, trace_id, span_id
    FROM spans
    WHERE trace_id IN ({placeholders})
)
SELECT c.workspace_id, c.trace_id, c.span_id
FROM candidate_batch c
SEMI JOIN stored s USING (workspace_id, trace_id, span_id)
