-- Every stored log record, as stored_spans.sql: row id, the request's keys, the bytes, the
-- record's identity (content hash) and the columns ingest derived (rebuild.LOG_DERIVED).
SELECT rowid, workspace_id, resource_id, scope_id, record,
       record_hash,
       workflow_id, execution_id, step_id
FROM logs;
