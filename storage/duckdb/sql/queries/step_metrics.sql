-- One workflow's step metrics over [$since, $until), first read (step_summary_reads.py):
-- the summary rows of its whole UTC days [$first_day, $last_day) that are summarized
-- (before the first unsealed day, after retention's cutoff day, not stale;
-- migrations/007_step_summaries.sql), for the
-- caller to merge per step with the rows made from the spans of every other part of the
-- window (step_metrics_spans.sql), in the same read transaction. Every row, and the one row
-- with no step (runs NULL) when there are none, also carries:
-- - the total duration of the workflow's finished executions started in the window (the
--   denominator of a step's share of execution time);
-- - the first unsealed day, retention's cutoff day and the workflow's stale days in the
--   window: what the caller reads from the spans;
-- - whether the window holds step spans naming no workflow (OTel cicd.pipeline.task.*
--   spans carry only the task name): they belong to their execution's workflow, which may
--   arrive after them, so they are never summarized. Cheap when there are none: the
--   spans' null statistics skip every row group.
WITH sealed AS (
    SELECT coalesce(until_day, -2147483648) AS until_day, coalesce(floor_day, -2147483648) AS floor_day
    FROM step_summaries_sealed
), stale AS (
    SELECT day FROM step_summaries_stale
    WHERE workspace_id = $workspace_id AND workflow_id = $workflow_id AND day >= $first_day AND day < $last_day
), head AS (
    SELECT
        (SELECT sum(duration_seconds) FROM executions
         WHERE workspace_id = $workspace_id AND workflow_id = $workflow_id AND status_rank = 3
           AND coalesce(started_ns, queued_ns) >= $since AND coalesce(started_ns, queued_ns) < $until
        ) AS workflow_time,
        (SELECT until_day FROM sealed) AS until_day,
        (SELECT floor_day FROM sealed) AS floor_day,
        (SELECT list(day ORDER BY day) FROM stale) AS stale_days,
        EXISTS (
            SELECT 1 FROM spans
            WHERE workspace_id = $workspace_id AND workflow_id IS NULL AND span_role = 'step'
              AND start_ns >= $since AND start_ns < $until
        ) AS unnamed
)
SELECT s.*, h.workflow_time, h.until_day, h.floor_day, h.stale_days, h.unnamed
FROM head h
LEFT JOIN (
    SELECT step_id, runs, completed, failed, skipped, cancelled, retries, runs_with_retries, ran,
           ran_ns::DOUBLE AS ran_ns, ran_max_ns, total_ns::DOUBLE AS total_ns, first_start_ns, last_start_ns,
           last_name, histogram
    FROM step_summaries
    WHERE workspace_id = $workspace_id AND workflow_id = $workflow_id AND day >= $first_day AND day < $last_day
      AND day < (SELECT until_day FROM sealed) AND day > (SELECT floor_day FROM sealed)
      AND day NOT IN (SELECT day FROM stale)
) s ON true
