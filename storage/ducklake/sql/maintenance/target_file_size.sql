-- The target size of table $table's data files (DuckLake's option, set by the lake's
-- migration 011; none: DuckLake's default).
SELECT value FROM ducklake_options('lake')
WHERE option_name = 'target_file_size' AND scope_entry = 'main.' || $table;
