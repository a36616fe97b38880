-- The spec's "Database Schema" shapes (workflow_executions, workflow_step_executions)
-- as views over the stored telemetry, so users can query the familiar tables with SQL.
-- Nothing here is stored twice: executions come from the ingest-maintained summary,
-- steps from step spans. JSON payload columns are JSON text (VARCHAR), because a
-- value the engine cut to its size cap is no longer valid JSON.
--
-- Step input/output live only inside the span's protobuf bytes. DuckDB cannot parse
-- protobuf, so the macros below read one string attribute out of the serialized
-- Span: they look for the KeyValue's bytes (tag 0x0A, key length, key, tag 0x12) in
-- the hex of the blob, then read AnyValue.string_value (tag 0x0A) after the
-- varint lengths. Span attributes (field 9) serialize before events (field 11), so
-- the first match is the span's own attribute. For ad-hoc SQL only: the API decodes
-- spans with the protobuf library.

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
    CASE WHEN step_status IN ('failed', 'cancelled') AND status_message <> '' THEN status_message END
                                                        AS error_message
FROM spans
WHERE span_role = 'step';
