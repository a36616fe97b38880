WITH trace AS MATERIALIZED (
    SELECT workspace_id, step_id, span_id FROM logs WHERE trace_id = $execution_id
)
SELECT count(*)
FROM trace
WHERE workspace_id = $workspace_id
  AND ($step_id IS NULL OR step_id = $step_id OR list_contains($span_ids, span_id));
