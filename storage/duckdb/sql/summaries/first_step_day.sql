-- The first UTC day at or after $from_ns with step spans naming a workflow (NULL: none
-- before $until_ns): where the maintenance summarizes next, skipping days without runs.
SELECT (min(start_ns) // 86400000000000)::INTEGER
FROM spans
WHERE span_role = 'step' AND workflow_id IS NOT NULL
  AND start_ns >= $from_ns::UBIGINT AND start_ns < $until_ns::UBIGINT
