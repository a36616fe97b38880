-- The file's workflow_update.sql without RETURNING (DuckLake has none): workflow_update_target.sql
-- finds the row first, in the same transaction.
UPDATE workflows
SET project_id = CASE WHEN $set_project_id THEN $project_id ELSE project_id END,
    name = CASE WHEN $set_name THEN $name ELSE name END,
    description = CASE WHEN $set_description THEN $description ELSE description END,
    definition = CASE WHEN $set_definition THEN $definition ELSE definition END,
    version = CASE WHEN $set_definition THEN version + 1 ELSE version END,
    updated_at = now()
WHERE workspace_id = $workspace_id AND id = $id
