-- Per-step aggregates of one workflow over its step runs started in [$since, $until), read
-- from the step summaries (migrations/006_step_summaries.sql) rather than the step spans:
-- whole UTC days inside the window from their summary rows, the window's partial days at
-- its edges from the spans (a bounded read), merged per step (by the writer's merge,
-- every row's `day` set to 0). Durations are over steps that ran (completed or failed);
-- the caller reads p50/p95 from the merged histogram. Steps are listed by their first run,
-- which is definition order for steps that always run.
-- A step span belongs to the workflow it names, or, when it names none (OTel
-- cicd.pipeline.task.* spans carry only the task name), to its execution's workflow: those
-- are not summarized (their execution may arrive later) and are read from the spans.
-- Each row also carries the total duration of the workflow's finished executions started in
-- the same window (the denominator of a step's share of execution time), read in the same
-- statement so that everything comes from one committed state.
WITH workflow_time AS (
    SELECT sum(duration_seconds) AS seconds
    FROM executions
    WHERE workspace_id = $workspace_id AND workflow_id = $workflow_id AND status_rank = 3
      AND coalesce(started_ns, queued_ns) >= $since AND coalesce(started_ns, queued_ns) < $until
), whole_days AS (  -- [first, last): the UTC days wholly inside the window
    SELECT (($since::HUGEINT + 86399999999999) // 86400000000000)::BIGINT AS first,
           ($until::HUGEINT // 86400000000000)::BIGINT AS last
), edge_spans AS (
    SELECT workspace_id, workflow_id, step_id, name, start_ns, step_status, retry_count, duration_ns, span_role
    FROM spans
    WHERE workspace_id = $workspace_id AND workflow_id = $workflow_id AND span_role = 'step'
      AND start_ns >= $since AND start_ns < $until
      AND NOT (start_ns >= (SELECT first::HUGEINT * 86400000000000 FROM whole_days)
               AND start_ns < (SELECT last::HUGEINT * 86400000000000 FROM whole_days))
    UNION ALL
    SELECT workspace_id, $workflow_id AS workflow_id, step_id, name, start_ns, step_status, retry_count,
           duration_ns, span_role
    FROM spans
    SEMI JOIN (
        SELECT execution_id FROM executions WHERE workspace_id = $workspace_id AND workflow_id = $workflow_id
    ) e USING (execution_id)
    WHERE workspace_id = $workspace_id AND workflow_id IS NULL AND span_role = 'step'
      AND start_ns >= $since AND start_ns < $until
), window_rows AS (
    SELECT * REPLACE (0 AS day)
    FROM step_summaries
    WHERE workspace_id = $workspace_id AND workflow_id = $workflow_id
      AND day >= (SELECT first FROM whole_days) AND day < (SELECT last FROM whole_days)
    UNION ALL BY NAME
    SELECT * REPLACE (0 AS day) FROM step_summary_rows(edge_spans, 0, 18446744073709551615)
), steps AS (
    {merge}
)
SELECT
    step_id,
    last_name                              AS step_name,
    runs, completed, failed, skipped, cancelled, retries, runs_with_retries,
    CASE WHEN ran > 0 THEN ran_ns::DOUBLE / ran / 1e9 END AS avg_duration,
    histogram,
    ran_max_ns / 1e9                       AS max_duration,
    total_ns::DOUBLE / 1e9                 AS time_in_step,
    (SELECT seconds FROM workflow_time)    AS workflow_time
FROM steps
ORDER BY first_start_ns, step_id;
