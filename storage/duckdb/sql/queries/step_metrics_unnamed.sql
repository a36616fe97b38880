-- One workflow's step metrics over [$since, $until): a row ('unnamed') when the window holds
-- step spans naming no workflow (OTel cicd.pipeline.task.* spans carry only the task name).
-- They belong to their execution's workflow, which may arrive after them, so they are never
-- summarized. Cheap when there are none: the spans' null statistics skip every row group.
-- Read after step_metrics_state.sql (UNION ALL BY NAME), or alone when that one is kept.
SELECT 'unnamed' AS part FROM (
    SELECT 1 FROM spans
    WHERE workspace_id = $workspace_id AND workflow_id IS NULL AND span_role = 'step'
      AND start_ns >= $since AND start_ns < $until
    LIMIT 1
)
