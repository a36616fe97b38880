-- Which of the (workspace, workflow, day)s given ($workspace_ids, $workflow_ids, $days: one per
-- position) are marked stale already (mark_stale.sql then adds the others).
SELECT s.workspace_id, s.workflow_id, s.day
FROM step_summaries_stale s
JOIN (
    SELECT unnest($workspace_ids::VARCHAR[]) AS workspace_id, unnest($workflow_ids::VARCHAR[]) AS workflow_id,
           unnest($days::INTEGER[]) AS day
) l ON s.workspace_id = l.workspace_id AND s.workflow_id = l.workflow_id AND s.day = l.day
