INSERT INTO spans BY NAME SELECT * FROM span_batch;
