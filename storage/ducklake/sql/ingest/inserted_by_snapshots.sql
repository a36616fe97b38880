-- The rows other_*_keys.sql reads, of one table: DuckLake's insertions between the first
-- and the last of the snapshots $snapshots (rows deleted since included), those of $snapshots.
-- Each statement pays DuckLake's catalog work (~3 ms), and the function more for the files it
-- lists: used where a snapshot inlined its rows into the catalog (others.py).
(SELECT snapshot_id, *  -- (a virtual column: not in `*`)
 FROM ducklake_table_insertions(current_database(), 'main', '{table}', $first, $last)
 WHERE list_contains($snapshots::BIGINT[], snapshot_id))
