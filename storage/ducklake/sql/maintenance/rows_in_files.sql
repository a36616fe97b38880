-- The live rows of table {table} in the files $paths.
SELECT count(*) FROM lake.main.{table} WHERE filename IN (SELECT unnest($paths::VARCHAR[]));
