-- The live data files of table $table with their sizes, paths as DuckLake's `filename` column
-- names them (for key_ranges.sql).
SELECT data_file, data_file_size_bytes FROM ducklake_list_files('lake', $table) ORDER BY data_file;
