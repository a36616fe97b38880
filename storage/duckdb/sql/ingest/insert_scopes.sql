INSERT INTO scopes BY NAME
SELECT b.* FROM scope_batch b ANTI JOIN scopes s USING (id);
