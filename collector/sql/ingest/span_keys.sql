-- The span dedupe key: DuckDB's 64-bit hash of (workspace, trace id, span id), never the
-- start time, so a span resent with other content or another start time is the same span.
-- The writer's Bloom filter (collector/seen.py) holds these keys. {source}: span_batch
-- (an incoming batch) or spans (the whole table, when the filter is built).
SELECT hash(workspace_id, trace_id, span_id) AS key FROM {source}
