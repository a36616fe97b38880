-- Each distinct (span name, kind) of one service, sorted.
SELECT DISTINCT name, kind FROM spans
WHERE workspace_id = $workspace_id AND service_name = $service
ORDER BY name, kind;
