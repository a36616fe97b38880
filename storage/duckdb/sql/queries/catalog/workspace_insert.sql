-- A new workspace; the UNIQUE slug refuses a taken one.
INSERT INTO workspaces (id, slug, name) VALUES ($id, $slug, $name)
