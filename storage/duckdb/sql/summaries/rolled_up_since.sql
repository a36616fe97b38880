-- The (workspace, workflow)s of part $part of $parts whose rollups hold UTC day $day or a later
-- one: when that day's part is summarized, they are rolled up whole (roll_up_day.sql).
SELECT DISTINCT workspace_id, workflow_id FROM step_rollups
WHERE last_day >= $day AND hash(workspace_id, workflow_id) % $parts::UBIGINT = $part::UBIGINT
ORDER BY ALL
