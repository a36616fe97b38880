-- The data files of table $table in the current snapshot, and how many of them have deletes.
SELECT count(*), count(delete_file) FROM ducklake_list_files('lake', $table)
