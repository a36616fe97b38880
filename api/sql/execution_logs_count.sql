SELECT count(*)
FROM logs
WHERE trace_id = $execution_id AND workspace_id = $workspace_id
  AND ($step_id IS NULL OR step_id = $step_id OR list_contains($span_ids, span_id));
