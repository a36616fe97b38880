INSERT INTO projects (id, workspace_id, name, description) VALUES ($id, $workspace_id, $name, $description)
