-- The spans of a span-metrics query (spliced into window_pairs and window_stats: no trailing
-- semicolon): of the listed services and kinds, in at least one window. Evaluation time k is
-- t = $first_ns + k * $step_ns (0 <= k < $points); its window (t - $window_ns, t] holds a span
-- ending at e when e <= t < e + $window_ns, that is, with d = e - ($first_ns - $window_ns) > 0,
-- when d - $window_ns <= k * $step_ns < d: k from k_first to k_last. HUGEINT: a window may
-- start before -2^63 ns.
SELECT service_name, operation, duration_ns, status_code, k_first, k_last
FROM (
    SELECT service_name,
           CASE WHEN $by_operation THEN name END AS operation,
           duration_ns,
           status_code,
           ((greatest(d - $window_ns, 0) + $step_ns - 1) // $step_ns)::BIGINT AS k_first,
           least((d - 1) // $step_ns, $points - 1)::BIGINT AS k_last
    FROM (
        SELECT service_name, name, duration_ns, status_code,
               end_ns::HUGEINT - ($first_ns::HUGEINT - $window_ns) AS d
        FROM spans
        WHERE workspace_id = $workspace_id
          AND list_contains($services, service_name)
          AND list_contains($kinds, kind)
          AND end_ns > $first_ns::HUGEINT - $window_ns
          AND end_ns <= $last_ns
    )
)
WHERE k_first <= k_last
