-- Total duration of one workflow's finished executions started in [$since, $until):
-- the denominator of each step's share of execution time.
SELECT sum(duration_seconds)
FROM executions
WHERE workspace_id = $workspace_id AND workflow_id = $workflow_id AND status_rank = 3
  AND coalesce(started_ns, queued_ns) >= $since AND coalesce(started_ns, queued_ns) < $until;
