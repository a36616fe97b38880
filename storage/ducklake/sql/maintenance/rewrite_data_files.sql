-- Files of table $table of which at least the share $threshold of rows were deleted, rewritten without them.
SELECT coalesce(sum(files_processed), 0)::BIGINT
FROM ducklake_rewrite_data_files('lake', $table, delete_threshold => $threshold::DOUBLE)
