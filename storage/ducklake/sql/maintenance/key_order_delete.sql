-- The rows of the files $paths, once key_order_insert.sql put them in again: every row of
-- each file deleted, DuckLake ends the files (no delete file is written).
DELETE FROM lake.main.{table} WHERE filename IN (SELECT unnest($paths::VARCHAR[]));
