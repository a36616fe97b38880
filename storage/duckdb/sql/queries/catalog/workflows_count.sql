-- How many workflows workflows.sql pages through (same filters, without $id).
SELECT count(*)
FROM workflows
WHERE workspace_id = $workspace_id
  AND ($project_id IS NULL OR project_id = $project_id)
  AND ($name IS NULL OR name = $name)
