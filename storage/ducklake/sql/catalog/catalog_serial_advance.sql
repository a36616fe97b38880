-- Taken first by a write that checks a uniqueness: conflicts with every other node's doing so
-- at the same time (sql/migrations/003_catalog_serial.sql).
UPDATE catalog_serial SET writes = writes + 1
