-- A new workflow: version 1, next execution number 1 (the table's defaults).
INSERT INTO workflows (id, workspace_id, project_id, name, description, definition)
VALUES ($id, $workspace_id, $project_id, $name, $description, $definition)
