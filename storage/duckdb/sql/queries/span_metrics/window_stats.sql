-- Per series and evaluation time t, the matching spans that ended in its window: how many,
-- how many with status ERROR (2), and the $quantile of their durations (NULL when $quantile
-- is NULL: then not computed at all). Each span is expanded into its windows' times (no join:
-- the work is the number of pairs). Only windows holding a span have a row.
WITH matching AS (
{matching_spans}
)
SELECT service_name,
       operation,
       $first_ns + k * $step_ns AS t,
       count(*) AS calls,
       count(*) FILTER (WHERE status_code = 2) AS errors,
       quantile_cont(duration_ns, coalesce($quantile, 0)) FILTER (WHERE $quantile IS NOT NULL) AS latency_ns
FROM (SELECT *, unnest(range(k_first, k_last + 1)) AS k FROM matching)
GROUP BY service_name, operation, k
ORDER BY service_name, operation, t;
