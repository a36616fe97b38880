-- The newest snapshot of the lake (-1: none yet).
SELECT coalesce(max(snapshot_id), -1) FROM lake_catalog.public.ducklake_snapshot;
