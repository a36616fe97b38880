-- Adjacent small files of table $table merged (files read, files written). Snapshots before
-- the merge stay readable: they point into parts of the merged file.
SELECT coalesce(sum(files_processed), 0)::BIGINT, coalesce(sum(files_created), 0)::BIGINT
FROM ducklake_merge_adjacent_files('lake', $table)
