-- Files under the data path that no catalog row names, older than the grace: younger ones
-- may be a node's commit in flight (written before its catalog commit).
SELECT count(*) FROM ducklake_delete_orphaned_files('lake', older_than => now() - $file_age::INTERVAL)
