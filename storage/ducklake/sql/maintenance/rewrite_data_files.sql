-- Files of table $table with enough deleted rows (DuckLake's rewrite_delete_threshold) rewritten without them.
SELECT coalesce(sum(files_processed), 0)::BIGINT FROM ducklake_rewrite_data_files('lake', $table, delete_threshold => 0.5)
