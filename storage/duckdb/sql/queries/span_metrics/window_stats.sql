-- Per series and evaluation time t = $first_ns + k * $step_ns (t <= $last_ns), the matching
-- spans that ended in (t - $window_ns, t]: how many, how many with status ERROR (2), and the
-- $quantile of their durations (NULL when $quantile is NULL: then not computed at all).
-- Only windows holding a span have a row.
WITH matching AS (
{matching_spans}
),
times AS (
    SELECT unnest(range($first_ns, $last_ns + 1, $step_ns)) AS t
)
SELECT service_name,
       operation,
       t,
       count(*) AS calls,
       count(*) FILTER (WHERE status_code = 2) AS errors,
       quantile_cont(duration_ns, coalesce($quantile, 0)) FILTER (WHERE $quantile IS NOT NULL) AS latency_ns
FROM matching
JOIN times ON end_ns > t - $window_ns AND end_ns <= t
GROUP BY ALL
ORDER BY service_name, operation, t;
