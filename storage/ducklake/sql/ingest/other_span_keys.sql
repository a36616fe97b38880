-- The spans the snapshots $snapshots inserted, rows deleted since included (read from the
-- Parquet files they added, inserted_in_files.sql, or as DuckLake's insertions,
-- inserted_by_snapshots.sql), as this node's dedupe needs them (storage/ducklake/others.py): the exact id (workspace, trace id, span id joined with NUL) and
-- the span filter's key (as ingest/span_keys.sql: the low 8 bytes of the trace id XOR the span id).
SELECT snapshot_id,
       workspace_id || chr(0) || trace_id || chr(0) || span_id AS id,
       xor(('0x' || substr(trace_id, 17))::UBIGINT, ('0x' || span_id)::UBIGINT) AS key
FROM {inserted};
