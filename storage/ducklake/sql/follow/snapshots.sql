-- The snapshots after $after, oldest first, with their labels (storage/ducklake/labels.py).
-- Read from the catalog's own table in PostgreSQL by its primary key: ~2 ms whatever the
-- number of snapshots, where DuckLake's snapshots() function reads them all (21 ms at 3,000).
SELECT snapshot_id, author, commit_message, commit_extra_info
FROM lake_catalog.public.ducklake_snapshot_changes
WHERE snapshot_id > $after
ORDER BY snapshot_id
LIMIT $limit;
