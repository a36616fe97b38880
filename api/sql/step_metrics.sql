-- Per-step aggregates over one workflow's step spans started in [$since, $until).
-- Durations over steps that ran (completed or failed); the share of execution time
-- relates each step's time to the duration of the finished executions it ran in.
WITH steps AS (
    SELECT step_id, name, step_status, coalesce(retry_count, 0) AS retries, duration_ns, execution_id,
           start_ns
    FROM spans
    WHERE workspace_id = $workspace_id AND workflow_id = $workflow_id AND span_role = 'step'
      AND start_ns >= $since AND start_ns < $until
), finished AS (
    SELECT execution_id, duration_seconds, started_ns
    FROM executions
    WHERE workspace_id = $workspace_id AND workflow_id = $workflow_id AND status_rank = 3
)
SELECT
    s.step_id,
    arg_max(s.name, s.duration_ns)                                             AS step_name,
    count(*)                                                                   AS runs,
    count(*) FILTER (WHERE s.step_status = 'completed')                        AS completed,
    count(*) FILTER (WHERE s.step_status = 'failed')                           AS failed,
    count(*) FILTER (WHERE s.step_status = 'skipped')                          AS skipped,
    count(*) FILTER (WHERE s.step_status = 'cancelled')                        AS cancelled,
    sum(s.retries)                                                             AS retries,
    count(*) FILTER (WHERE s.retries > 0)                                      AS runs_with_retries,
    avg(s.duration_ns) FILTER (WHERE s.step_status IN ('completed', 'failed')) / 1e9 AS avg_duration,
    quantile_cont(s.duration_ns, [0.5, 0.95]) FILTER (WHERE s.step_status IN ('completed', 'failed'))
                                                                               AS quantiles,
    max(s.duration_ns) FILTER (WHERE s.step_status IN ('completed', 'failed')) / 1e9 AS max_duration,
    sum(s.duration_ns) FILTER (WHERE f.duration_seconds IS NOT NULL) / 1e9     AS time_in_step,
    sum(f.duration_seconds)                                                    AS time_in_executions
FROM steps s
LEFT JOIN finished f USING (execution_id)
GROUP BY s.step_id
-- In the order steps usually run: by their mean start offset within the execution.
ORDER BY avg(s.start_ns::BIGINT - f.started_ns::BIGINT) NULLS LAST, s.step_id;
