-- Whether the window holds step spans naming no workflow (read by step_metrics_edges.sql).
-- Cheap when there are none: the spans' null statistics skip every row group.
SELECT count(*) > 0
FROM (
    SELECT 1 FROM spans
    WHERE workspace_id = $workspace_id AND workflow_id IS NULL AND span_role = 'step'
      AND start_ns >= $since AND start_ns < $until
    LIMIT 1
);
