-- Workspaces, oldest first: all of them, or the one with id $id (when not NULL).
SELECT id, slug, name, epoch_ns(created_at)
FROM workspaces
WHERE $id IS NULL OR id = $id
ORDER BY created_at, id
