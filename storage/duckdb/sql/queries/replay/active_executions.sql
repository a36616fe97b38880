-- The executions of one workflow active after $since (unfinished, or finished, a workflow
-- span ending or a record of $event_names after it), most recently active first.
WITH candidates AS (
    SELECT execution_id,
           greatest(coalesce(ended_ns, 0), coalesce(started_ns, 0), coalesce(queued_ns, 0)) AS t
    FROM executions
    WHERE workspace_id = $workspace_id AND workflow_id = $workflow_id
      AND (status_rank < 3 OR ended_ns > $since)
    UNION ALL
    SELECT execution_id, max(end_ns) AS t
    FROM spans
    WHERE workspace_id = $workspace_id AND workflow_id = $workflow_id AND span_role IN ('execution', 'step')
      AND end_ns > $since
    GROUP BY execution_id
    UNION ALL
    SELECT execution_id, max(time_ns) AS t
    FROM logs
    WHERE workspace_id = $workspace_id AND workflow_id = $workflow_id
      AND list_contains($event_names::VARCHAR[], event_name) AND time_ns > $since
    GROUP BY execution_id
)
SELECT execution_id FROM candidates
GROUP BY execution_id
ORDER BY max(t) DESC, execution_id DESC  -- a total order: the LIMIT cuts the same rows each call
LIMIT $limit;
