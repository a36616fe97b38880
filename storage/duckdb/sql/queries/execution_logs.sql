-- Log records of one execution of the workspace, oldest first. With $step_id, only that
-- step's: records naming the step, or emitted inside its spans ($span_ids: the step
-- span and its attempt spans). MATERIALIZED: see execution_lifecycle.sql. The page's record
-- bytes are read after it, by row id (log_blobs.sql; storage/duckdb/blobs.py says why).
WITH trace AS MATERIALIZED (
    SELECT * EXCLUDE (record), rowid AS row_id FROM logs WHERE trace_id = $execution_id
)
SELECT time_ns, observed_ns, severity_number, severity_text, body, event_name, span_id, step_id,
       service_name, row_id
FROM trace
WHERE workspace_id = $workspace_id
  AND ($step_id IS NULL OR step_id = $step_id OR list_contains($span_ids, span_id))
ORDER BY time_ns, record_hash
LIMIT $limit OFFSET $skip;
