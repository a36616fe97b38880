-- Add the summary rows of UTC day $day of the workflows whose hash falls in part $part of
-- $parts (just summarized: summarize_day.sql) to their rollups (migrations/008_step_rollups.sql),
-- but for the (workspace, workflow)s given ($whole: workspace_id || chr(0) || workflow_id each),
-- whose rollups hold that day or a later one already (a stale day summarized again): those
-- are rolled up whole instead (roll_up_workflows.sql). Adding costs the day's rows and the
-- rollups of those workflows, not all their days' rows. Four statements: existing rows and
-- buckets are added to, the others inserted.
UPDATE step_rollups AS r
SET first_day = least(r.first_day, d.day),
    last_day = greatest(r.last_day, d.day),
    runs = r.runs + d.runs,
    completed = r.completed + d.completed,
    failed = r.failed + d.failed,
    skipped = r.skipped + d.skipped,
    cancelled = r.cancelled + d.cancelled,
    retries = r.retries + d.retries,
    runs_with_retries = r.runs_with_retries + d.runs_with_retries,
    ran = r.ran + d.ran,
    ran_ns = r.ran_ns + d.ran_ns,
    ran_max_ns = greatest(r.ran_max_ns, d.ran_max_ns),
    total_ns = r.total_ns + d.total_ns,
    first_start_ns = least(r.first_start_ns, d.first_start_ns),
    last_start_ns = greatest(r.last_start_ns, d.last_start_ns),
    last_name = CASE WHEN d.last_start_ns > r.last_start_ns THEN d.last_name ELSE r.last_name END
FROM (
    SELECT * FROM step_summaries
    WHERE day = $day AND hash(workspace_id, workflow_id) % $parts::UBIGINT = $part::UBIGINT
      AND NOT list_contains($whole::VARCHAR[], workspace_id || chr(0) || workflow_id)
) d
WHERE r.workspace_id = d.workspace_id AND r.workflow_id = d.workflow_id AND r.step_id IS NOT DISTINCT FROM d.step_id;

INSERT INTO step_rollups
SELECT workspace_id, workflow_id, step_id, day AS first_day, day AS last_day, runs, completed, failed,
       skipped, cancelled, retries, runs_with_retries, ran, ran_ns, ran_max_ns, total_ns, first_start_ns,
       last_start_ns, last_name
FROM step_summaries d
WHERE day = $day AND hash(workspace_id, workflow_id) % $parts::UBIGINT = $part::UBIGINT
  AND NOT list_contains($whole::VARCHAR[], workspace_id || chr(0) || workflow_id)
  AND NOT EXISTS (
      SELECT 1 FROM step_rollups r
      WHERE r.workspace_id = d.workspace_id AND r.workflow_id = d.workflow_id
        AND r.step_id IS NOT DISTINCT FROM d.step_id
  )
ORDER BY workspace_id, workflow_id, step_id;

UPDATE step_rollup_buckets AS r
SET n = r.n + e.n, s = r.s + e.s
FROM (
    SELECT workspace_id, workflow_id, step_id, h.b AS b, h.n AS n, h.s AS s
    FROM (
        SELECT workspace_id, workflow_id, step_id, unnest(histogram) AS h FROM step_summaries
        WHERE day = $day AND hash(workspace_id, workflow_id) % $parts::UBIGINT = $part::UBIGINT
          AND NOT list_contains($whole::VARCHAR[], workspace_id || chr(0) || workflow_id)
    )
) e
WHERE r.workspace_id = e.workspace_id AND r.workflow_id = e.workflow_id
  AND r.step_id IS NOT DISTINCT FROM e.step_id AND r.b = e.b;

INSERT INTO step_rollup_buckets
SELECT *
FROM (
    SELECT workspace_id, workflow_id, step_id, h.b AS b, h.n AS n, h.s AS s
    FROM (
        SELECT workspace_id, workflow_id, step_id, unnest(histogram) AS h FROM step_summaries
        WHERE day = $day AND hash(workspace_id, workflow_id) % $parts::UBIGINT = $part::UBIGINT
          AND NOT list_contains($whole::VARCHAR[], workspace_id || chr(0) || workflow_id)
    )
) e
WHERE NOT EXISTS (
    SELECT 1 FROM step_rollup_buckets r
    WHERE r.workspace_id = e.workspace_id AND r.workflow_id = e.workflow_id
      AND r.step_id IS NOT DISTINCT FROM e.step_id AND r.b = e.b
)
ORDER BY workspace_id, workflow_id, step_id, b
