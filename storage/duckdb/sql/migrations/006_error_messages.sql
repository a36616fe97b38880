-- The error message of each execution and step span, computed once at ingest by the one
-- rule (flowscope.conventions.error_message, README "Error messages"): the emitter's own
-- message (workflow.error / workflow.step.error), else, for a failed, cancelled or timed-out
-- span, its status message, its last `exception` event's message, its error.type, its
-- cicd.* result. REST, the spec's SQL views and Grafana read this column; the live feeds
-- apply the same rule to the same inputs. NULL for other spans.
ALTER TABLE spans ADD COLUMN error_message VARCHAR;

-- Spans stored before this migration: the same rule except `exception` events, which SQL
-- cannot read from the blob (none of the readers used them before either).
UPDATE spans SET error_message = coalesce(
    nullif(span_attribute_string(span, CASE span_role WHEN 'execution' THEN 'workflow.error'
                                                      ELSE 'workflow.step.error' END), ''),
    CASE WHEN step_status IN ('failed', 'cancelled', 'timeout') THEN coalesce(
        nullif(status_message, ''),
        nullif(span_attribute_string(span, 'error.type'), ''),
        CASE WHEN step_status <> 'cancelled' THEN
            nullif(span_attribute_string(span, CASE span_role WHEN 'execution' THEN 'cicd.pipeline.result'
                                                              ELSE 'cicd.pipeline.task.run.result' END), '')
        END
    ) END
)
WHERE span_role IN ('execution', 'step');

CREATE OR REPLACE VIEW workflow_step_executions AS
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
