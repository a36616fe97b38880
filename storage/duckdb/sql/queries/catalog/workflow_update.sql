-- Set the fields flagged $set_<field> (the others keep their value); a new definition bumps
-- the version. Returns the id if found.
UPDATE workflows
SET project_id = CASE WHEN $set_project_id THEN $project_id ELSE project_id END,
    name = CASE WHEN $set_name THEN $name ELSE name END,
    description = CASE WHEN $set_description THEN $description ELSE description END,
    definition = CASE WHEN $set_definition THEN $definition ELSE definition END,
    version = CASE WHEN $set_definition THEN version + 1 ELSE version END,
    updated_at = now()
WHERE workspace_id = $workspace_id AND id = $id
RETURNING id
