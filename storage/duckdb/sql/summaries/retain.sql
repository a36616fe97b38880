-- After retention deleted the spans started before the cutoff (same transaction): the
-- summary rows of the days before the cutoff's day go, and the cutoff's day, part of
-- which went, is stale (readers take its remaining spans; the maintenance recomputes it).
DELETE FROM step_summaries WHERE day < $day;
DELETE FROM step_summaries_stale WHERE day < $day;
INSERT INTO step_summaries_stale
SELECT DISTINCT workspace_id, workflow_id, day FROM step_summaries s
WHERE day = $day AND NOT EXISTS (
    SELECT 1 FROM step_summaries_stale t
    WHERE t.workspace_id = s.workspace_id AND t.workflow_id = s.workflow_id AND t.day = s.day
)
