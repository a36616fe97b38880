INSERT INTO resources BY NAME
SELECT b.* FROM resource_batch b ANTI JOIN resources r USING (id);
