-- How many workflows belong to the project (a project is deleted only when none does).
SELECT count(*) FROM workflows WHERE workspace_id = $workspace_id AND project_id = $id
