-- After retention deleted the spans started before the cutoff (same transaction): the rows
-- and stale marks of the cutoff's day $day and before go; readers take that day, part of
-- which went, from its remaining spans (and find none before it).
DELETE FROM step_summaries WHERE day <= $day;
DELETE FROM step_summaries_stale WHERE day <= $day;
UPDATE step_summaries_sealed SET floor_day = greatest(coalesce(floor_day, $day), $day)
