-- The DuckLake store's schema: the DuckDB file's schema as its migrations 001-007 leave it
-- (storage/duckdb/sql/migrations/, the column comments are there), in one step, less what
-- DuckLake (catalog format 1.0, duckdb 1.5.5) refuses: PRIMARY KEY / UNIQUE constraints,
-- indexes, and a column's compression (Parquet files are compressed whole). What the
-- constraints enforced in the file is enforced by the store's code (storage/ducklake/
-- catalog.py: unique workspace slugs and token hashes, under the one catalog write lock).
-- Column order and names are the file's: the shared statements insert BY NAME.
-- No statement compares a BLOB: on 1.5.5 `blob_col = x` over DuckDB-written Parquet with a
-- dictionary-encoded column and its bloom filter finds no row (duckdb issue 24994); every id
-- is hex text or an integer.

CREATE TABLE workspaces (
    id          VARCHAR,
    slug        VARCHAR NOT NULL,
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
    span            BLOB NOT NULL,      -- opentelemetry.proto.trace.v1.Span
    error_message   VARCHAR             -- file migration 006
);

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

CREATE TABLE projects (
    id            VARCHAR,
    workspace_id  VARCHAR NOT NULL,
    name          VARCHAR NOT NULL,
    description   VARCHAR,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE workflows (
    id                     VARCHAR,
    workspace_id           VARCHAR NOT NULL,
    project_id             VARCHAR,
    name                   VARCHAR NOT NULL,
    description            VARCHAR,
    definition             VARCHAR NOT NULL,  -- the workflow definition as JSON text
    version                INTEGER NOT NULL DEFAULT 1,
    next_execution_number  BIGINT NOT NULL DEFAULT 1,
    created_at             TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at             TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE tokens (
    id            VARCHAR,
    token_hash    VARCHAR NOT NULL,   -- sha256 of the secret; the secret is shown once
    workspace_id  VARCHAR NOT NULL,
    role          VARCHAR NOT NULL,          -- viewer | editor | admin
    name          VARCHAR,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    revoked_at    TIMESTAMPTZ,
    server_admin  BOOLEAN NOT NULL DEFAULT false   -- file migration 005
);

-- The spec's views and the macros they use (file migrations 003 and 006).
-- Byte at 1-based hex position p (each byte is two hex characters).
CREATE MACRO pb_byte(h, p) AS ('0x' || substr(h, p, 2))::INTEGER;

-- Length in bytes, and value, of the varint starting at hex position p (up to 4 bytes:
-- values below 256 MiB, far beyond any attribute the engine writes).
CREATE MACRO pb_varint_len(h, p) AS
    CASE WHEN pb_byte(h, p) < 128 THEN 1
         WHEN pb_byte(h, p + 2) < 128 THEN 2
         WHEN pb_byte(h, p + 4) < 128 THEN 3
         ELSE 4 END;

CREATE MACRO pb_varint(h, p) AS
    CASE WHEN pb_byte(h, p) < 128 THEN pb_byte(h, p)
         WHEN pb_byte(h, p + 2) < 128 THEN (pb_byte(h, p) - 128) + pb_byte(h, p + 2) * 128
         WHEN pb_byte(h, p + 4) < 128
             THEN (pb_byte(h, p) - 128) + (pb_byte(h, p + 2) - 128) * 128 + pb_byte(h, p + 4) * 16384
         ELSE (pb_byte(h, p) - 128) + (pb_byte(h, p + 2) - 128) * 128
              + (pb_byte(h, p + 4) - 128) * 16384 + pb_byte(h, p + 6) * 2097152 END;

-- Hex position of the KeyValue whose key is `key` followed by its value's tag, or 0.
CREATE MACRO pb_attr_pos(h, key) AS
    position(('0A' || printf('%02X', strlen(key)) || hex(key) || '12') IN h);

-- AnyValue at hex position r: its string_value, else NULL (other value types).
CREATE MACRO pb_string_at(h, r) AS
    CASE WHEN pb_byte(h, r) = 10
         THEN TRY(decode(unhex(substr(h, r + 2 + 2 * pb_varint_len(h, r + 2), 2 * pb_varint(h, r + 2)))))
    END;

CREATE MACRO pb_attr_string_hex(h, key, p) AS
    CASE WHEN p > 0 AND p % 2 = 1
         THEN pb_string_at(h, p + 2 * (strlen(key) + 3) + 2 * pb_varint_len(h, p + 2 * (strlen(key) + 3)))
    END;

-- span_attribute_string(span, 'workflow.step.output'): a string attribute of a stored span.
CREATE MACRO span_attribute_string(span, key) AS pb_attr_string_hex(hex(span), key, pb_attr_pos(hex(span), key));

CREATE VIEW workflow_executions AS
SELECT
    execution_id                                        AS id,
    workflow_id,
    workspace_id,
    project_id,
    execution_number,
    status,
    to_timestamp(started_ns / 1e9)                      AS started_at,
    to_timestamp(ended_ns / 1e9)                        AS completed_at,
    duration_seconds                                    AS duration,
    input_json                                          AS input_variables,
    results_json                                        AS results,
    error_message,
    CASE WHEN error_message IS NOT NULL
         THEN json_object('status', status, 'message', error_message, 'service_name', service_name)::VARCHAR
    END                                                 AS error_details,
    workflow_name,
    service_name,
    to_timestamp(coalesce(queued_ns, started_ns) / 1e9) AS created_at,
    to_timestamp(coalesce(ended_ns, started_ns, queued_ns) / 1e9) AS updated_at
FROM executions;

CREATE VIEW workflow_step_executions AS
SELECT
    span_id                                             AS id,
    execution_id,
    step_id,
    workspace_id,
    workflow_id,
    name                                                AS step_name,
    step_status                                         AS status,
    to_timestamp(start_ns / 1e9)                        AS started_at,
    to_timestamp(end_ns / 1e9)                          AS completed_at,
    duration_ns / 1e9                                   AS duration,
    span_attribute_string(span, 'workflow.step.input')  AS input_data,
    span_attribute_string(span, 'workflow.step.output') AS output_data,
    coalesce(retry_count, 0)                            AS retry_count,
    error_message
FROM spans
WHERE span_role = 'step';

-- Per-step summaries of sealed days (file migration 007: the rules are written there).
CREATE MACRO step_duration_bucket(d) AS
    CASE WHEN d > 0 THEN floor(ln(d) / ln(1.01))::SMALLINT ELSE (-1)::SMALLINT END;

CREATE TABLE step_summaries (
    workspace_id       VARCHAR NOT NULL,
    workflow_id        VARCHAR NOT NULL,
    step_id            VARCHAR,
    day                INTEGER NOT NULL,   -- start_ns // 86400e9 (UTC day of the runs' start)
    runs               BIGINT NOT NULL,
    completed          BIGINT NOT NULL,
    failed             BIGINT NOT NULL,
    skipped            BIGINT NOT NULL,
    cancelled          BIGINT NOT NULL,
    retries            BIGINT NOT NULL,    -- sum of retry counts (none counts 0)
    runs_with_retries  BIGINT NOT NULL,
    ran                BIGINT NOT NULL,    -- runs that ran (completed or failed)
    ran_ns             HUGEINT NOT NULL,   -- their summed duration
    ran_max_ns         BIGINT,             -- NULL when none ran
    total_ns           HUGEINT NOT NULL,   -- every run's summed duration
    first_start_ns     UBIGINT NOT NULL,
    last_start_ns      UBIGINT NOT NULL,
    last_name          VARCHAR NOT NULL,   -- the span name of the run started last
    histogram          STRUCT(b SMALLINT, n BIGINT, s DOUBLE)[] NOT NULL  -- ordered by b
);

-- What is summarized (one row). Every UTC day before `until_day` and after `floor_day` has
-- its summary rows (a day without rows had no step runs), except the stale (workspace,
-- workflow, day)s below. `floor_day` is retention's cutoff day (part of its spans went; the
-- days before have none): readers take it from the spans. The maintenance summarizes the day
-- `until_day` in `parts` runs (workflows split by hash), `next_part` being the next one; the
-- rows of the parts done are not read until the day is sealed. NULLs until the first run.
CREATE TABLE step_summaries_sealed (until_day INTEGER, floor_day INTEGER, parts INTEGER, next_part INTEGER);
INSERT INTO step_summaries_sealed VALUES (NULL, NULL, NULL, NULL);

-- Summarized days that step spans were committed to since (late runs): readers take them
-- from the spans until the maintenance summarizes them again.
CREATE TABLE step_summaries_stale (
    workspace_id VARCHAR NOT NULL,
    workflow_id  VARCHAR NOT NULL,
    day          INTEGER NOT NULL
);

-- The summary rows of the step spans of `source` (a table or view of `spans` columns)
-- started in [from_ns, until_ns): the one definition of a summary, for the maintenance
-- and the rebuild (the stored spans) and the query's edges (the spans outside summaries).
CREATE MACRO step_summary_rows(source, from_ns, until_ns) AS TABLE
WITH runs AS (
    SELECT workspace_id, workflow_id, step_id, (start_ns // 86400000000000)::INTEGER AS day,
           name, start_ns, step_status, coalesce(retry_count, 0) AS retry_count, duration_ns,
           CASE WHEN step_status IN ('completed', 'failed') THEN step_duration_bucket(duration_ns) END AS b
    FROM query_table(source)
    WHERE span_role = 'step' AND workflow_id IS NOT NULL AND start_ns >= from_ns AND start_ns < until_ns
), buckets AS (
    SELECT workspace_id, workflow_id, step_id, day, b,
           count(*)                                  AS runs,
           sum((step_status = 'completed')::BIGINT)  AS completed,
           sum((step_status = 'failed')::BIGINT)     AS failed,
           sum((step_status = 'skipped')::BIGINT)    AS skipped,
           sum((step_status = 'cancelled')::BIGINT)  AS cancelled,
           sum(retry_count)                          AS retries,
           sum((retry_count > 0)::BIGINT)            AS runs_with_retries,
           sum(duration_ns::HUGEINT)                 AS total_ns,
           max(duration_ns)                          AS max_ns,
           min(start_ns)                             AS first_start_ns,
           max(start_ns)                             AS last_start_ns,
           arg_max(name, start_ns)                   AS last_name
    FROM runs
    GROUP BY ALL
)
SELECT workspace_id, workflow_id, step_id, day,
       sum(runs)::BIGINT                                                 AS runs,
       sum(completed)::BIGINT                                            AS completed,
       sum(failed)::BIGINT                                               AS failed,
       sum(skipped)::BIGINT                                              AS skipped,
       sum(cancelled)::BIGINT                                            AS cancelled,
       sum(retries)::BIGINT                                              AS retries,
       sum(runs_with_retries)::BIGINT                                    AS runs_with_retries,
       coalesce(sum(CASE WHEN b IS NOT NULL THEN runs END), 0)::BIGINT   AS ran,
       coalesce(sum(CASE WHEN b IS NOT NULL THEN total_ns END), 0)::HUGEINT AS ran_ns,
       max(CASE WHEN b IS NOT NULL THEN max_ns END)                      AS ran_max_ns,
       sum(total_ns)::HUGEINT                                            AS total_ns,
       min(first_start_ns)                                               AS first_start_ns,
       max(last_start_ns)                                                AS last_start_ns,
       arg_max(last_name, last_start_ns)                                 AS last_name,
       coalesce(
           list({'b': b, 'n': runs, 's': total_ns::DOUBLE} ORDER BY b) FILTER (WHERE b IS NOT NULL),
           []
       )::STRUCT(b SMALLINT, n BIGINT, s DOUBLE)[]                       AS histogram
FROM buckets
GROUP BY workspace_id, workflow_id, step_id, day;
