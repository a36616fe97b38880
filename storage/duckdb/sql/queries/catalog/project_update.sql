-- Set the fields flagged $set_<field> (the others keep their value); returns the id if found.
UPDATE projects
SET name = CASE WHEN $set_name THEN $name ELSE name END,
    description = CASE WHEN $set_description THEN $description ELSE description END,
    updated_at = now()
WHERE workspace_id = $workspace_id AND id = $id
RETURNING id
