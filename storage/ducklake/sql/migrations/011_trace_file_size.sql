-- Data files of at most 128 MB for the tables read by trace id (issue 14). `flowscope
-- maintain` rewrites their files into narrow, disjoint trace id ranges of this size
-- (storage/ducklake/key_ranges.py), so a read by trace id opens one file of a few dozen row
-- groups; DuckLake's merges use the same target, so they leave such files as they are rather
-- than merge them back into wide ones (its default target is 512 MB).
CALL set_option('target_file_size', '128MB', table_name => 'spans');
CALL set_option('target_file_size', '128MB', table_name => 'logs');
