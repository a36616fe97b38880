-- Core telemetry schema: spans, log records, their resources and scopes, workspaces,
-- and the executions summary maintained at ingest (rebuildable from spans + logs).
--
-- Ids are lowercase hex text (trace 32, span 16) so they read the same in SQL, the
-- REST API and the Jaeger API. Times are unix nanoseconds (UBIGINT: OTLP allows the
-- full uint64 range). The span and log record themselves are kept as their OTLP
-- protobuf bytes, so nothing OTLP carries is lost and attribute types survive; the
-- columns beside them are promoted copies for filtering.

CREATE TABLE workspaces (
    id          VARCHAR PRIMARY KEY,
    slug        VARCHAR NOT NULL UNIQUE,
    name        VARCHAR NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
INSERT INTO workspaces (id, slug, name) VALUES ('default', 'default', 'Default workspace');

CREATE TABLE resources (
    id          UBIGINT NOT NULL,       -- content hash of (resource bytes, schema url)
    resource    BLOB NOT NULL,          -- opentelemetry.proto.resource.v1.Resource
    schema_url  VARCHAR NOT NULL
);

CREATE TABLE scopes (
    id          UBIGINT NOT NULL,       -- content hash of (scope bytes, schema url)
    scope       BLOB NOT NULL,          -- opentelemetry.proto.common.v1.InstrumentationScope
    schema_url  VARCHAR NOT NULL
);

CREATE TABLE spans (
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
    span            BLOB NOT NULL       -- opentelemetry.proto.trace.v1.Span
);
CREATE INDEX spans_trace_id ON spans (trace_id);

CREATE TABLE logs (
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
    record          BLOB NOT NULL       -- opentelemetry.proto.logs.v1.LogRecord
);
CREATE INDEX logs_trace_id ON logs (trace_id);

-- One row per execution, merged at ingest from lifecycle records and the root span.
CREATE TABLE executions (
    workspace_id      VARCHAR NOT NULL,
    execution_id      VARCHAR NOT NULL,
    workflow_id       VARCHAR NOT NULL,
    workflow_name     VARCHAR,
    project_id        VARCHAR,
    execution_number  BIGINT,
    status            VARCHAR NOT NULL,
    status_rank       UTINYINT NOT NULL, -- 1 pending, 2 running, 3 terminal
    queued_ns         UBIGINT,
    started_ns        UBIGINT,
    ended_ns          UBIGINT,
    duration_seconds  DOUBLE,
    input_json        VARCHAR,
    results_json      VARCHAR,
    error_message     VARCHAR,
    root_span_id      VARCHAR,
    service_name      VARCHAR,
    updated_ns        UBIGINT NOT NULL
);
CREATE INDEX executions_execution_id ON executions (execution_id);
