-- Per workflow of one workspace, catalogued or only seen in telemetry (foreign tracers):
-- its newest execution, how many are open now, and over the finished executions started in
-- [$since, $until) the counts and percentiles of workflow_metrics.sql, with the same window
-- (began_ns) and the same "finished" (status_rank 3).
WITH e AS (
    SELECT workflow_id, workflow_name, service_name, execution_id, status, status_rank, duration_seconds,
           coalesce(queued_ns, started_ns, updated_ns) AS created,
           began_ns AS began
    FROM executions
    WHERE workspace_id = $workspace_id
), seen AS (
    SELECT workflow_id,
           arg_max(workflow_name, created) FILTER (WHERE workflow_name IS NOT NULL) AS workflow_name,
           arg_max(service_name, created) FILTER (WHERE service_name IS NOT NULL) AS service_name,
           arg_max(execution_id, created) AS last_execution_id,
           arg_max(status, created) AS last_status,
           max(created) AS last_created,
           count(*) FILTER (WHERE status = 'running') AS running,
           count(*) FILTER (WHERE status = 'pending') AS pending,
           count(*) FILTER (WHERE status_rank = 3 AND began >= $since AND began < $until) AS finished,
           count(*) FILTER (WHERE status = 'completed' AND began >= $since AND began < $until) AS completed,
           quantile_cont(duration_seconds, [0.5, 0.95])
               FILTER (WHERE status_rank = 3 AND began >= $since AND began < $until) AS quantiles
    FROM e
    GROUP BY workflow_id
), catalog AS (
    SELECT id, name, description FROM workflows WHERE workspace_id = $workspace_id
)
SELECT coalesce(c.id, s.workflow_id) AS workflow_id,
       coalesce(c.name, s.workflow_name, s.workflow_id) AS name,
       c.description,
       c.id IS NOT NULL AS catalogued,
       s.service_name, s.last_execution_id, s.last_status, s.last_created,
       coalesce(s.running, 0), coalesce(s.pending, 0), coalesce(s.finished, 0), coalesce(s.completed, 0),
       s.quantiles
FROM catalog c
FULL OUTER JOIN seen s ON s.workflow_id = c.id
ORDER BY lower(coalesce(c.name, s.workflow_name, s.workflow_id)), 1;
