-- The lake's snapshots after $after, oldest first, with their labels (storage/ducklake/labels.py)
-- and what each changed (DuckLake's `changes_made`: "inserted_into_table:<table id>", ...), from
-- the catalog's own table in PostgreSQL by its primary key (as follow/snapshots.sql): what the
-- other nodes committed, for this node's dedupe filters (storage/ducklake/others.py).
SELECT snapshot_id, author, commit_message, changes_made
FROM lake_catalog.public.ducklake_snapshot_changes
WHERE snapshot_id > $after
ORDER BY snapshot_id
LIMIT $limit;
