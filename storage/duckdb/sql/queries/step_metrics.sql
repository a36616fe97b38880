-- One workflow's step metrics over [$since, $until), first read (step_summary_reads.py):
-- what the caller needs to split the window between the summaries and the spans, and the
-- days and total of the workflow's finished executions' rollup (the denominator of a step's
-- share of execution time: migrations/009_workflow_time_rollups.sql), in the caller's read
-- transaction:
-- - the first unsealed day and retention's cutoff day (migrations/007_step_summaries.sql);
-- - the workflow's stale days (late runs since they were summarized);
-- - the first and last day its rollup holds (migrations/008_step_rollups.sql);
-- - whether the window holds step spans naming no workflow (OTel cicd.pipeline.task.*
--   spans carry only the task name): they belong to their execution's workflow, which may
--   arrive after them, so they are never summarized. Cheap when there are none: the
--   spans' null statistics skip every row group.
-- Simple statements: one combining these with the summary rows planned to ~5x their cost.
SELECT
    (SELECT [from_day, until_day] FROM workflow_time_rollups
     WHERE workspace_id = $workspace_id AND workflow_id = $workflow_id) AS time_days,
    (SELECT duration_seconds FROM workflow_time_rollups
     WHERE workspace_id = $workspace_id AND workflow_id = $workflow_id) AS time_seconds,
    coalesce(until_day, -2147483648) AS until_day,
    coalesce(floor_day, -2147483648) AS floor_day,
    (SELECT list(day) FROM step_summaries_stale
     WHERE workspace_id = $workspace_id AND workflow_id = $workflow_id) AS stale_days,
    (SELECT [min(first_day), max(last_day)] FROM step_rollups
     WHERE workspace_id = $workspace_id AND workflow_id = $workflow_id) AS rolled_up_days,
    EXISTS (
        SELECT 1 FROM spans
        WHERE workspace_id = $workspace_id AND workflow_id IS NULL AND span_role = 'step'
          AND start_ns >= $since AND start_ns < $until
    ) AS unnamed
FROM step_summaries_sealed
