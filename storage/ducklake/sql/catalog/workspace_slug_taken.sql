-- The file's UNIQUE slug, checked before workspace_insert.sql under the catalog's write lock.
SELECT 1 FROM workspaces WHERE slug = $slug
