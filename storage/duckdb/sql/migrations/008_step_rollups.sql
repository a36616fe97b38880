-- Per-workflow rollups of the step summaries (issue 11: step metrics at 10M spans). A workflow's
-- all-time step metrics merged one summary row per step and day (30 days x steps, each with its
-- duration histogram: ~18 ms to read at 10M spans, the histograms read whole); a rollup is those
-- rows merged once: one row per (workspace, workflow, step) over every summary row of the
-- workflow (step_summaries), whatever its day, with the days it covers, and its histogram as
-- rows of their own (sorted by workflow, so that a read skips the other workflows' buckets).
-- Maintained with the summaries (storage/duckdb/step_summaries.py), in the same transactions,
-- one workflow whole at a time: when a part of a day is summarized (that part's workflows),
-- when stale days are summarized again (a late run, a later try replacing a stored one), when
-- retention drops days, and by the rebuild. Readers use a workflow's rollup when the window holds all its
-- days and none of them is stale (storage/duckdb/step_summary_reads.py); else the summaries.

CREATE TABLE step_rollups (
    workspace_id       VARCHAR NOT NULL,
    workflow_id        VARCHAR NOT NULL,
    step_id            VARCHAR,
    first_day          INTEGER NOT NULL,   -- the first and last day of the summary rows merged
    last_day           INTEGER NOT NULL,
    runs               BIGINT NOT NULL,    -- the rest as in step_summaries, merged
    completed          BIGINT NOT NULL,
    failed             BIGINT NOT NULL,
    skipped            BIGINT NOT NULL,
    cancelled          BIGINT NOT NULL,
    retries            BIGINT NOT NULL,
    runs_with_retries  BIGINT NOT NULL,
    ran                BIGINT NOT NULL,
    ran_ns             HUGEINT NOT NULL,
    ran_max_ns         BIGINT,
    total_ns           HUGEINT NOT NULL,
    first_start_ns     UBIGINT NOT NULL,
    last_start_ns      UBIGINT NOT NULL,
    last_name          VARCHAR NOT NULL
);

-- The merged duration histogram of each rollup row: its used buckets (as step_summaries').
CREATE TABLE step_rollup_buckets (
    workspace_id  VARCHAR NOT NULL,
    workflow_id   VARCHAR NOT NULL,
    step_id       VARCHAR,
    b             SMALLINT NOT NULL,
    n             BIGINT NOT NULL,
    s             DOUBLE NOT NULL
);

-- The rollup rows and buckets of the step_summaries rows of `source` (a table or view of
-- them): the one definition of a rollup, for the maintenance, the rebuild and this migration.
CREATE MACRO step_rollup_rows(source) AS TABLE
SELECT workspace_id, workflow_id, step_id,
       min(day)                             AS first_day,
       max(day)                             AS last_day,
       sum(runs)::BIGINT                    AS runs,
       sum(completed)::BIGINT               AS completed,
       sum(failed)::BIGINT                  AS failed,
       sum(skipped)::BIGINT                 AS skipped,
       sum(cancelled)::BIGINT               AS cancelled,
       sum(retries)::BIGINT                 AS retries,
       sum(runs_with_retries)::BIGINT       AS runs_with_retries,
       sum(ran)::BIGINT                     AS ran,
       sum(ran_ns)::HUGEINT                 AS ran_ns,
       max(ran_max_ns)                      AS ran_max_ns,
       sum(total_ns)::HUGEINT               AS total_ns,
       min(first_start_ns)                  AS first_start_ns,
       max(last_start_ns)                   AS last_start_ns,
       arg_max(last_name, last_start_ns)    AS last_name
FROM query_table(source)
GROUP BY workspace_id, workflow_id, step_id;

CREATE MACRO step_rollup_bucket_rows(source) AS TABLE
SELECT workspace_id, workflow_id, step_id, e.b AS b, sum(e.n)::BIGINT AS n, sum(e.s) AS s
FROM (SELECT workspace_id, workflow_id, step_id, unnest(histogram) AS e FROM query_table(source))
GROUP BY workspace_id, workflow_id, step_id, e.b;

INSERT INTO step_rollups
SELECT * FROM step_rollup_rows(step_summaries) ORDER BY workspace_id, workflow_id, step_id;

INSERT INTO step_rollup_buckets
SELECT * FROM step_rollup_bucket_rows(step_summaries) ORDER BY workspace_id, workflow_id, step_id, b
