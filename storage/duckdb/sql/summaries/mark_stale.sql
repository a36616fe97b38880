-- A commit's step spans started on summarized days ($workspace_ids, $workflow_ids, $days:
-- one (workspace, workflow, day) per position): those days' summaries are stale until the
-- maintenance recomputes them; readers take them from the spans meanwhile. In the commit's
-- transaction; rare (late runs). Adds the marks not there yet (stale_marks.sql finds those).
INSERT INTO step_summaries_stale
SELECT * FROM (
    SELECT unnest($workspace_ids::VARCHAR[]) AS workspace_id, unnest($workflow_ids::VARCHAR[]) AS workflow_id,
           unnest($days::INTEGER[]) AS day
) l
WHERE NOT EXISTS (
    SELECT 1 FROM step_summaries_stale s
    WHERE s.workspace_id = l.workspace_id AND s.workflow_id = l.workflow_id AND s.day = l.day
)
