-- Files scheduled for deletion (merged away, of expired snapshots) longer than the grace ago.
SELECT count(*) FROM ducklake_cleanup_old_files('lake', older_than => now() - $file_age::INTERVAL)
