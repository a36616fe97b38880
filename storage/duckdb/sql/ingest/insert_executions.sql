INSERT INTO executions BY NAME SELECT * FROM exec_batch;
