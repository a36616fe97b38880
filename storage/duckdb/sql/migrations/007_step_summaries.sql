-- Per-step summaries of sealed days (issue 11 item 3): step metrics read these rows instead
-- of scanning the step spans of whole UTC days. One row per (workspace, workflow, step, UTC
-- day of the run's start). Never written by a commit: the writer's maintenance
-- (storage/duckdb/step_summaries.py) summarizes each day once it is over, off the commit
-- path; a later commit with step spans on a summarized day only marks that (workspace,
-- workflow, day) stale, and readers take a stale day from the spans until it is summarized
-- again. `flowscope rebuild` recomputes everything; retention trims them with the spans.
-- Step spans naming no workflow (foreign cicd.pipeline.task.* spans) are not summarized:
-- their workflow is their execution's, which may arrive later; readers take them from the
-- spans. The backfill of older files is the maintenance's too (opening stays fast).
--
-- Durations of the runs that ran (completed or failed) are kept in a mergeable log
-- histogram: bucket b holds the durations d with floor(ln d / ln 1.01) = b (d in
-- [1.01^b, 1.01^(b+1)) ns; b = -1 holds d <= 0), with their count and sum. A quantile reads
-- each order statistic as the mean of its bucket, so it is exact when that bucket holds
-- one value (or equal values) and otherwise within 1% of the exact one (relative).

CREATE MACRO step_duration_bucket(d) AS
    CASE WHEN d > 0 THEN floor(ln(d) / ln(1.01))::SMALLINT ELSE (-1)::SMALLINT END;

CREATE TABLE step_summaries (
    workspace_id       VARCHAR NOT NULL,
    workflow_id        VARCHAR NOT NULL,
    step_id            VARCHAR,
    day                INTEGER NOT NULL,   -- start_ns // 86400e9 (UTC day of the runs' start)
    runs               BIGINT NOT NULL,
    completed          BIGINT NOT NULL,
    failed             BIGINT NOT NULL,
    skipped            BIGINT NOT NULL,
    cancelled          BIGINT NOT NULL,
    retries            BIGINT NOT NULL,    -- sum of retry counts (none counts 0)
    runs_with_retries  BIGINT NOT NULL,
    ran                BIGINT NOT NULL,    -- runs that ran (completed or failed)
    ran_ns             HUGEINT NOT NULL,   -- their summed duration
    ran_max_ns         BIGINT,             -- NULL when none ran
    total_ns           HUGEINT NOT NULL,   -- every run's summed duration
    first_start_ns     UBIGINT NOT NULL,
    last_start_ns      UBIGINT NOT NULL,
    last_name          VARCHAR NOT NULL,   -- the span name of the run started last
    histogram          STRUCT(b SMALLINT, n BIGINT, s DOUBLE)[] NOT NULL  -- ordered by b
);

-- What is summarized (one row). Every UTC day before `until_day` and after `floor_day` has
-- its summary rows (a day without rows had no step runs), except the stale (workspace,
-- workflow, day)s below. `floor_day` is retention's cutoff day (part of its spans went; the
-- days before have none): readers take it from the spans. The maintenance summarizes the day
-- `until_day` in `parts` runs (workflows split by hash), `next_part` being the next one; the
-- rows of the parts done are not read until the day is sealed. NULLs until the first run.
CREATE TABLE step_summaries_sealed (until_day INTEGER, floor_day INTEGER, parts INTEGER, next_part INTEGER);
INSERT INTO step_summaries_sealed VALUES (NULL, NULL, NULL, NULL);

-- Summarized days that step spans were committed to since (late runs): readers take them
-- from the spans until the maintenance summarizes them again.
CREATE TABLE step_summaries_stale (
    workspace_id VARCHAR NOT NULL,
    workflow_id  VARCHAR NOT NULL,
    day          INTEGER NOT NULL
);

-- The summary rows of the step spans of `source` (a table or view of `spans` columns)
-- started in [from_ns, until_ns): the one definition of a summary, for the maintenance
-- and the rebuild (the stored spans) and the query's edges (the spans outside summaries).
CREATE MACRO step_summary_rows(source, from_ns, until_ns) AS TABLE
WITH runs AS (
    SELECT workspace_id, workflow_id, step_id, (start_ns // 86400000000000)::INTEGER AS day,
           name, start_ns, step_status, coalesce(retry_count, 0) AS retry_count, duration_ns,
           CASE WHEN step_status IN ('completed', 'failed') THEN step_duration_bucket(duration_ns) END AS b
    FROM query_table(source)
    WHERE span_role = 'step' AND workflow_id IS NOT NULL AND start_ns >= from_ns AND start_ns < until_ns
), buckets AS (
    SELECT workspace_id, workflow_id, step_id, day, b,
           count(*)                                  AS runs,
           sum((step_status = 'completed')::BIGINT)  AS completed,
           sum((step_status = 'failed')::BIGINT)     AS failed,
           sum((step_status = 'skipped')::BIGINT)    AS skipped,
           sum((step_status = 'cancelled')::BIGINT)  AS cancelled,
           sum(retry_count)                          AS retries,
           sum((retry_count > 0)::BIGINT)            AS runs_with_retries,
           sum(duration_ns::HUGEINT)                 AS total_ns,
           max(duration_ns)                          AS max_ns,
           min(start_ns)                             AS first_start_ns,
           max(start_ns)                             AS last_start_ns,
           arg_max(name, start_ns)                   AS last_name
    FROM runs
    GROUP BY ALL
)
SELECT workspace_id, workflow_id, step_id, day,
       sum(runs)::BIGINT                                                 AS runs,
       sum(completed)::BIGINT                                            AS completed,
       sum(failed)::BIGINT                                               AS failed,
       sum(skipped)::BIGINT                                              AS skipped,
       sum(cancelled)::BIGINT                                            AS cancelled,
       sum(retries)::BIGINT                                              AS retries,
       sum(runs_with_retries)::BIGINT                                    AS runs_with_retries,
       coalesce(sum(CASE WHEN b IS NOT NULL THEN runs END), 0)::BIGINT   AS ran,
       coalesce(sum(CASE WHEN b IS NOT NULL THEN total_ns END), 0)::HUGEINT AS ran_ns,
       max(CASE WHEN b IS NOT NULL THEN max_ns END)                      AS ran_max_ns,
       sum(total_ns)::HUGEINT                                            AS total_ns,
       min(first_start_ns)                                               AS first_start_ns,
       max(last_start_ns)                                                AS last_start_ns,
       arg_max(last_name, last_start_ns)                                 AS last_name,
       coalesce(
           list({'b': b, 'n': runs, 's': total_ns::DOUBLE} ORDER BY b) FILTER (WHERE b IS NOT NULL),
           []
       )::STRUCT(b SMALLINT, n BIGINT, s DOUBLE)[]                       AS histogram
FROM buckets
GROUP BY workspace_id, workflow_id, step_id, day;
