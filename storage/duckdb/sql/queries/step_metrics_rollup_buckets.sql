-- The histograms of step_metrics_rollups.sql's rows: their buckets (the caller puts each
-- row's in bucket order).
SELECT step_id, b, n, s
FROM step_rollup_buckets
WHERE workspace_id = $workspace_id AND workflow_id = $workflow_id
