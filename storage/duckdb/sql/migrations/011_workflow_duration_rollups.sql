-- Each finished execution (status and duration) begun on the days a workflow's executions
-- total covers (migrations/009_workflow_time_rollups.sql), one row each, kept by workflow (issue
-- 11: workflow metrics at 10M spans). GET /api/workflows/{id}/metrics aggregated the workflow's
-- finished executions by a scan of every `executions` row (the workflow filter skips no row
-- group there: rows are stored in the order they last changed): ~13 ms at 1M executions for a
-- workflow of 9k, ~15-20 for one of 90k. Its exact percentiles (quantile_cont) need every
-- duration, so this keeps the durations, not totals. Readers take these rows plus the
-- executions begun outside the days they cover (a began_ns range the zone maps skip), when
-- the window holds those days and none of them is stale (storage/duckdb/step_summary_reads.py
-- `finished_executions`): ~5 ms for the 9k, ~11 for the 90k.
--
-- Kept with workflow_time_rollups, by the same statements (summaries/roll_up_part.sql,
-- roll_up_workflows.sql, roll_up_workflow_time.sql), from the same rows: the macro
-- rolled_up_executions below is now both tables' one definition of what they cover.

CREATE TABLE workflow_duration_rollups (
    workspace_id      VARCHAR NOT NULL,
    workflow_id       VARCHAR NOT NULL,
    status            VARCHAR NOT NULL,   -- a finished status (status_rank 3)
    duration_seconds  DOUBLE
);

-- The finished executions of `source` (a table or view of `executions` rows) begun on the days
-- the rollups cover. The days follow step_summaries_sealed: after floor_day, before until_day,
-- and until_day too for the workflows whose part of it is summarized (the hash split of
-- summaries/summarize_day.sql, parts [0, next_part) done).
CREATE MACRO rolled_up_executions(source) AS TABLE
WITH covered AS (
    SELECT e.workspace_id, e.workflow_id, e.status, e.duration_seconds,
           (coalesce(e.started_ns, e.queued_ns) // 86400000000000)::INTEGER AS day,
           greatest(coalesce(s.floor_day + 1, 0), 0)::INTEGER AS from_day,
           (s.until_day + CASE
               WHEN s.parts IS NOT NULL
                    AND hash(e.workspace_id, e.workflow_id) % s.parts::UBIGINT < s.next_part::UBIGINT
               THEN 1 ELSE 0 END)::INTEGER AS until_day
    FROM query_table(source) e, step_summaries_sealed s
    WHERE e.status_rank = 3 AND s.until_day IS NOT NULL
)
SELECT * FROM covered WHERE day >= from_day AND day < until_day;

CREATE OR REPLACE MACRO workflow_time_rollup_rows(source) AS TABLE
SELECT workspace_id, workflow_id, from_day, until_day, count(*)::BIGINT AS finished,
       sum(duration_seconds) AS duration_seconds
FROM rolled_up_executions(source)
GROUP BY workspace_id, workflow_id, from_day, until_day;

-- Inserted ordered by workflow (here and by the summaries statements named above), so that a
-- workflow's rows lie together and a read's workflow filter skips the row groups of the others.
CREATE MACRO workflow_duration_rollup_rows(source) AS TABLE
SELECT workspace_id, workflow_id, status, duration_seconds
FROM rolled_up_executions(source);

INSERT INTO workflow_duration_rollups
SELECT * FROM workflow_duration_rollup_rows(executions) ORDER BY workspace_id, workflow_id
