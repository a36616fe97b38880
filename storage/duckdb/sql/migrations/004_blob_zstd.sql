-- Store the span and log record protobuf blobs ZSTD-compressed.
--
-- DuckDB's default for BLOB columns (dictionary + FSST) spends ~4 µs per span when
-- checkpointing (the ingest bottleneck once conversion is fast) and keeps ~335 bytes per
-- span on disk; ZSTD on the blob column alone measured 4.1 vs 9.5 µs per span for
-- insert + commit + checkpoint and ~136 bytes per span (bench/ingest.py). DuckDB cannot
-- change a column's compression in place, so both tables are rebuilt (rows kept).

CREATE TABLE spans_v4 (
    workspace_id    VARCHAR NOT NULL,
    trace_id        VARCHAR NOT NULL,
    span_id         VARCHAR NOT NULL,
    parent_span_id  VARCHAR NOT NULL,   -- '' for a root span
    name            VARCHAR NOT NULL,
    kind            UTINYINT NOT NULL,  -- OTLP SpanKind
    start_ns        UBIGINT NOT NULL,
    end_ns          UBIGINT NOT NULL,
    duration_ns     BIGINT NOT NULL,    -- end - start, clamped to BIGINT
    status_code     UTINYINT NOT NULL,  -- OTLP Status.StatusCode
    status_message  VARCHAR NOT NULL,
    service_name    VARCHAR NOT NULL,
    scope_name      VARCHAR NOT NULL,
    resource_id     UBIGINT NOT NULL,
    scope_id        UBIGINT NOT NULL,
    -- workflow conventions (DESIGN.md), NULL for spans that are not workflow spans
    span_role       VARCHAR,            -- 'execution' | 'step' | 'attempt'
    workflow_id     VARCHAR,
    execution_id    VARCHAR,
    step_id         VARCHAR,
    step_status     VARCHAR,            -- resolved step status, or execution status on roots
    retry_count     INTEGER,
    span            BLOB NOT NULL USING COMPRESSION zstd  -- opentelemetry.proto.trace.v1.Span
);
INSERT INTO spans_v4 SELECT * FROM spans;
DROP TABLE spans;
ALTER TABLE spans_v4 RENAME TO spans;
CREATE INDEX spans_trace_id ON spans (trace_id);

CREATE TABLE logs_v4 (
    workspace_id    VARCHAR NOT NULL,
    record_hash     UBIGINT NOT NULL,   -- content hash for idempotent ingest
    time_ns         UBIGINT NOT NULL,   -- time_unix_nano, or observed time when unset
    observed_ns     UBIGINT NOT NULL,
    severity_number INTEGER NOT NULL,
    severity_text   VARCHAR NOT NULL,
    body            VARCHAR,            -- string rendering of the body
    event_name      VARCHAR NOT NULL,   -- LogRecord.event_name, else the event.name attribute
    trace_id        VARCHAR NOT NULL,
    span_id         VARCHAR NOT NULL,
    service_name    VARCHAR NOT NULL,
    resource_id     UBIGINT NOT NULL,
    scope_id        UBIGINT NOT NULL,
    workflow_id     VARCHAR,
    execution_id    VARCHAR,
    step_id         VARCHAR,
    record          BLOB NOT NULL USING COMPRESSION zstd  -- opentelemetry.proto.logs.v1.LogRecord
);
INSERT INTO logs_v4 SELECT * FROM logs;
DROP TABLE logs;
ALTER TABLE logs_v4 RENAME TO logs;
CREATE INDEX logs_trace_id ON logs (trace_id);
