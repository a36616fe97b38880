-- Per-workflow totals of the finished executions begun on sealed days (issue 11: step metrics
-- at 10M spans). A step's share of execution time divides by the total duration of the
-- workflow's finished executions begun in the window; summing it filtered the 1M `executions`
-- rows (the filter on coalesce(started_ns, queued_ns) skips no row group): ~60 % of an all-time
-- step metrics read. A workflow's row holds that total over the days [from_day, until_day):
-- every day its step summaries cover (after retention's cutoff day, before the first day whose
-- part of the workflows is not summarized yet); readers add the executions begun outside them
-- (storage/duckdb/step_summary_reads.py).
--
-- Kept with the step rollups (migrations/008_step_rollups.sql), in the same transactions, from
-- the executions table, a workflow whole: when a part of a day is summarized, when stale days
-- are summarized again, by retention (every workflow: it deletes executions by their end) and by
-- both rebuilds. An execution row that a commit changes (taken out, folded, inserted again) and
-- that was finished before or after, begun on a day a rollup may cover, marks that (workspace,
-- workflow, day) stale, as a late step run does (storage/duckdb/step_summaries.py): readers do
-- not use the workflow's row until the maintenance has rolled it up again.
-- A workflow without a row (none of its executions finished on those days) is read whole.

CREATE TABLE workflow_time_rollups (
    workspace_id      VARCHAR NOT NULL,
    workflow_id       VARCHAR NOT NULL,
    from_day          INTEGER NOT NULL,   -- the days [from_day, until_day) of the executions' begin
    until_day         INTEGER NOT NULL,   -- (coalesce(started_ns, queued_ns), UTC)
    finished          BIGINT NOT NULL,    -- how many finished (status_rank 3)
    duration_seconds  DOUBLE              -- their summed duration (NULL when none has one)
);

-- The rollup rows of the executions of `source` (a table or view of `executions` rows): the one
-- definition of a row, for the maintenance, the rebuilds, retention and this migration. The
-- days covered follow step_summaries_sealed: after floor_day, before until_day, and until_day
-- too for the workflows whose part of it is summarized (the hash split of
-- summaries/summarize_day.sql, parts [0, next_part) done).
CREATE MACRO workflow_time_rollup_rows(source) AS TABLE
WITH covered AS (
    SELECT e.workspace_id, e.workflow_id, e.duration_seconds,
           (coalesce(e.started_ns, e.queued_ns) // 86400000000000)::INTEGER AS day,
           greatest(coalesce(s.floor_day + 1, 0), 0)::INTEGER AS from_day,
           (s.until_day + CASE
               WHEN s.parts IS NOT NULL
                    AND hash(e.workspace_id, e.workflow_id) % s.parts::UBIGINT < s.next_part::UBIGINT
               THEN 1 ELSE 0 END)::INTEGER AS until_day
    FROM query_table(source) e, step_summaries_sealed s
    WHERE e.status_rank = 3 AND s.until_day IS NOT NULL
)
SELECT workspace_id, workflow_id, from_day, until_day, count(*)::BIGINT AS finished,
       sum(duration_seconds) AS duration_seconds
FROM covered
WHERE day >= from_day AND day < until_day
GROUP BY workspace_id, workflow_id, from_day, until_day;

INSERT INTO workflow_time_rollups
SELECT * FROM workflow_time_rollup_rows(executions) ORDER BY workspace_id, workflow_id
