-- Snapshots older than the retention window forgotten (the latest one always stays); the
-- files only they read are scheduled for deletion.
SELECT count(*) FROM ducklake_expire_snapshots('lake', older_than => now() - $snapshot_age::INTERVAL)
