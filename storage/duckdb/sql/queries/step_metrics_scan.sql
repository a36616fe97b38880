-- Per-step aggregates over one workflow's step spans started in [$since, $until), read
-- from the spans alone: for a window without a whole day before today, which the summaries
-- cannot serve (step_summary_reads.py); exact percentiles. One pass with plain aggregates
-- (FILTER clauses cost several times more at this size).
-- Durations are over steps that ran (completed or failed); steps are listed by their
-- first run, which is definition order for steps that always run.
-- A step span belongs to the workflow it names, or, when it names none (OTel
-- cicd.pipeline.task.* spans carry only the task name), to its execution's workflow:
-- the spans are step_metrics_spans.sql's, over the whole window.
-- Each row also carries the total duration of the workflow's finished executions started in
-- the same window (the denominator of a step's share of execution time), read in the same
-- statement so both come from one committed state.
WITH workflow_time AS (
    SELECT sum(duration_seconds) AS seconds
    FROM executions
    WHERE workspace_id = $workspace_id AND workflow_id = $workflow_id AND status_rank = 3
      AND began_ns >= $since AND began_ns < $until
), steps AS (
    {step_spans}
)
SELECT
    step_id,
    arg_max(name, start_ns)                                                        AS step_name,
    count(*)                                                                       AS runs,
    sum((step_status = 'completed')::INTEGER)                                      AS completed,
    sum((step_status = 'failed')::INTEGER)                                         AS failed,
    sum((step_status = 'skipped')::INTEGER)                                        AS skipped,
    sum((step_status = 'cancelled')::INTEGER)                                      AS cancelled,
    -- A step span without a retry count (foreign tracers) had no retry.
    sum(coalesce(retry_count, 0))                                                  AS retries,
    sum((coalesce(retry_count, 0) > 0)::INTEGER)                                   AS runs_with_retries,
    avg(CASE WHEN step_status IN ('completed', 'failed') THEN duration_ns END) / 1e9  AS avg_duration,
    quantile_cont(CASE WHEN step_status IN ('completed', 'failed') THEN duration_ns END, [0.5, 0.95])
                                                                                   AS quantiles,
    max(CASE WHEN step_status IN ('completed', 'failed') THEN duration_ns END) / 1e9  AS max_duration,
    sum(duration_ns) / 1e9                                                         AS time_in_step,
    (SELECT seconds FROM workflow_time)                                            AS workflow_time
FROM steps
GROUP BY step_id
ORDER BY min(start_ns), step_id;
