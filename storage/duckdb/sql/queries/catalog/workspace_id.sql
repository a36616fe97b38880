-- The id of the workspace with id $id, else with slug $slug (the other one NULL).
SELECT id FROM workspaces WHERE id = $id OR slug = $slug
