-- The workspace's projects, oldest first: all of them, or the one with id $id (when not NULL).
SELECT id, workspace_id, name, description, epoch_ns(created_at), epoch_ns(updated_at)
FROM projects
WHERE workspace_id = $workspace_id AND ($id IS NULL OR id = $id)
ORDER BY created_at, id
