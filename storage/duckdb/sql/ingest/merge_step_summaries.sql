-- Step summary rows merged per (workspace, workflow, step, day): counts and sums add up,
-- the histograms add up bucket by bucket (migrations/006_step_summaries.sql). {rows} is a
-- query of step_summaries rows; the writer merges the stored rows a batch touches with
-- the batch's, the step metrics query the rows of its window (with `day` set to one value).
WITH r AS (
    {rows}
), bucket_sums AS (
    SELECT workspace_id, workflow_id, step_id, day, h.b AS b, sum(h.n)::BIGINT AS n, sum(h.s) AS s
    FROM (SELECT workspace_id, workflow_id, step_id, day, unnest(histogram) AS h FROM r)
    GROUP BY ALL
), histograms AS (
    SELECT workspace_id, workflow_id, step_id, day, list({'b': b, 'n': n, 's': s} ORDER BY b) AS histogram
    FROM bucket_sums
    GROUP BY ALL
), totals AS (
    SELECT workspace_id, workflow_id, step_id, day,
           sum(runs)::BIGINT AS runs, sum(completed)::BIGINT AS completed, sum(failed)::BIGINT AS failed,
           sum(skipped)::BIGINT AS skipped, sum(cancelled)::BIGINT AS cancelled,
           sum(retries)::BIGINT AS retries, sum(runs_with_retries)::BIGINT AS runs_with_retries,
           sum(ran)::BIGINT AS ran, sum(ran_ns)::HUGEINT AS ran_ns, max(ran_max_ns) AS ran_max_ns,
           sum(total_ns)::HUGEINT AS total_ns, min(first_start_ns) AS first_start_ns,
           max(last_start_ns) AS last_start_ns, arg_max(last_name, last_start_ns) AS last_name
    FROM r
    GROUP BY workspace_id, workflow_id, step_id, day
)
SELECT t.*, coalesce(h.histogram, [])::STRUCT(b SMALLINT, n BIGINT, s DOUBLE)[] AS histogram
FROM totals t
LEFT JOIN histograms h
  ON h.workspace_id = t.workspace_id AND h.workflow_id = t.workflow_id
 AND h.step_id IS NOT DISTINCT FROM t.step_id AND h.day = t.day
