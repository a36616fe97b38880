-- The stored summaries of the executions a batch has facts about (`execution_keys`: an Arrow
-- table of (workspace_id, execution_id), scanned by name), with their row ids, which
-- delete_rows.sql then takes out of the table in the same transaction: the file's
-- take_executions.sql is one DELETE ... RETURNING, which DuckLake does not have.
-- A semi join with the keys' table, not list parameters: with 512 keys on a lake of 1,856
-- executions the join took ~60 ms and `execution_id IN (SELECT unnest($ids))` with
-- `list_contains($keys, ...)` ~450 ms (bench/lake_dedupe.py's lake, loaded machine).
SELECT e.rowid AS stored_rowid, e.*
FROM executions e
SEMI JOIN execution_keys k USING (workspace_id, execution_id)
