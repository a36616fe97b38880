-- Delete the rows listed in `doomed_rows` (an Arrow table of row ids, scanned by name) from
-- {table}: the copies span_copies.sql / log_copies.sql found, the execution rows
-- stored_executions.sql took out. A table, not a list parameter: see stored_executions.sql.
DELETE FROM {table} WHERE rowid IN (SELECT rowid FROM doomed_rows)
