-- The execution rows the snapshots $snapshots inserted (as other_span_keys.sql): the exact id
-- (workspace, execution id joined with NUL) and, for an execution id that is a trace id, the
-- execution filter's key (as ingest/execution_keys.sql; NULL for other ids, which the writer
-- always looks up).
SELECT snapshot_id,
       workspace_id || chr(0) || execution_id AS id,
       CASE WHEN regexp_full_match(execution_id, '[0-9a-f]{32}')
            THEN TRY_CAST('0x' || substr(execution_id, 17) AS UBIGINT) END AS key
FROM {inserted};
