-- A commit's step spans started on summarized days (`late_batch`: workspace_id,
-- workflow_id, day): those days' summaries are stale until the maintenance recomputes
-- them; readers take them from the spans meanwhile. In the commit's transaction; rare.
INSERT INTO step_summaries_stale
SELECT DISTINCT workspace_id, workflow_id, day FROM late_batch l
WHERE NOT EXISTS (
    SELECT 1 FROM step_summaries_stale s
    WHERE s.workspace_id = l.workspace_id AND s.workflow_id = l.workflow_id AND s.day = l.day
)
