-- The histograms of step_metrics_rollups.sql's rows: their buckets, by step, in bucket order.
SELECT step_id, b, n, s
FROM step_rollup_buckets
WHERE workspace_id = $workspace_id AND workflow_id = $workflow_id
ORDER BY step_id NULLS FIRST, b
