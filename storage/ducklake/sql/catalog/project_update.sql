-- The file's project_update.sql without RETURNING (DuckLake has none): project_update_target.sql
-- finds the row first, in the same transaction.
UPDATE projects
SET name = CASE WHEN $set_name THEN $name ELSE name END,
    description = CASE WHEN $set_description THEN $description ELSE description END,
    updated_at = now()
WHERE workspace_id = $workspace_id AND id = $id
