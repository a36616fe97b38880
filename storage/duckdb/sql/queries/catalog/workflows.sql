-- A page of the workspace's workflows, newest first; each filter applies when not NULL.
SELECT id, workspace_id, project_id, name, description, definition, version, next_execution_number,
       epoch_ns(created_at), epoch_ns(updated_at)
FROM workflows
WHERE workspace_id = $workspace_id
  AND ($id IS NULL OR id = $id)
  AND ($project_id IS NULL OR project_id = $project_id)
  AND ($name IS NULL OR name = $name)
ORDER BY created_at DESC, id
LIMIT $limit OFFSET $skip
