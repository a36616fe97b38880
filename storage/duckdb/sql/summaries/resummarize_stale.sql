-- Recompute the summary rows of the stale (workspace, workflow)s ($workspace_ids,
-- $workflow_ids: one per position) of UTC day $day ([$from_ns, $until_ns)) from their spans,
-- and clear their marks; one statement of three (split on ';'), in one transaction.
DELETE FROM step_summaries
USING (SELECT unnest($workspace_ids::VARCHAR[]) AS workspace_id, unnest($workflow_ids::VARCHAR[]) AS workflow_id) k
WHERE step_summaries.workspace_id = k.workspace_id AND step_summaries.workflow_id = k.workflow_id
  AND step_summaries.day = $day;

INSERT INTO step_summaries
WITH stale_spans AS (
    SELECT *
    FROM spans
    SEMI JOIN (
        SELECT unnest($workspace_ids::VARCHAR[]) AS workspace_id, unnest($workflow_ids::VARCHAR[]) AS workflow_id
    ) k USING (workspace_id, workflow_id)
    WHERE start_ns >= $from_ns::UBIGINT AND start_ns < $until_ns::UBIGINT
)
SELECT * FROM step_summary_rows(stale_spans, $from_ns::UBIGINT, $until_ns::UBIGINT)
ORDER BY workspace_id, workflow_id, step_id;

DELETE FROM step_summaries_stale
USING (SELECT unnest($workspace_ids::VARCHAR[]) AS workspace_id, unnest($workflow_ids::VARCHAR[]) AS workflow_id) k
WHERE step_summaries_stale.workspace_id = k.workspace_id AND step_summaries_stale.workflow_id = k.workflow_id
  AND step_summaries_stale.day = $day
