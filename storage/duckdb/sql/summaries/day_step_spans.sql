-- How many step spans naming a workflow the UTC day [$from_ns, $until_ns) holds: how many
-- parts the maintenance summarizes it in. Cheap: the zone maps skip the other days.
SELECT count(*)
FROM spans
WHERE span_role = 'step' AND workflow_id IS NOT NULL
  AND start_ns >= $from_ns::UBIGINT AND start_ns < $until_ns::UBIGINT
