-- One workflow's step metrics, third read (step_summary_reads.py): the step spans the
-- summaries leave out, for the caller to aggregate and merge with the summary rows: the
-- workflow's step spans of the ranges {ranges} (the window's partial days at its edges,
-- unsealed, stale and retention's cutoff days: constants, so that the zone maps skip every
-- other span), and, when the window holds some ({unnamed}: `true` or `false`), the step
-- spans naming no workflow of its executions (over the whole window: never summarized).
SELECT step_id, name, start_ns, step_status, retry_count, duration_ns
FROM spans
WHERE workspace_id = $workspace_id AND workflow_id = $workflow_id AND span_role = 'step' AND ({ranges})
UNION ALL
SELECT step_id, name, start_ns, step_status, retry_count, duration_ns
FROM spans
SEMI JOIN (
    SELECT execution_id FROM executions WHERE workspace_id = $workspace_id AND workflow_id = $workflow_id
) e USING (execution_id)
WHERE {unnamed} AND workspace_id = $workspace_id AND workflow_id IS NULL AND span_role = 'step'
  AND start_ns >= $since AND start_ns < $until
