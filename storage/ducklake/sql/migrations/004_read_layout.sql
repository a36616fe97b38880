-- How the lake's Parquet files are laid out for its readers (issue 14). A lake has no index:
-- a read by id scans every file of its table, pruned only by min/max statistics (DuckLake's
-- per file, in its catalog; Parquet's per row group, in the file's footer). DuckLake sorts a
-- table so whenever it writes it (each commit's file, inlined rows flushed, files merged by
-- `flowscope maintain`), which keeps those statistics narrow. Answers do not change: no
-- reader depends on the order rows are stored in, and row ids stay what they were.

-- One trace's spans and records side by side, in small row groups: reading a trace touches
-- one row group of each file. A span's blob (~1 KB, the root's and steps' are read for their
-- attributes) is read by decompressing its column in the row group up to the row, so the
-- row group's size is what a details read costs: at DuckDB's default (122,880 rows) ~5x more
-- than at 8,192 (measured at 1M spans, README "Scale-out store").
ALTER TABLE spans SET SORTED BY (trace_id);
CALL set_option('parquet_row_group_size', 8192, table_name => 'spans');
ALTER TABLE logs SET SORTED BY (trace_id);
CALL set_option('parquet_row_group_size', 8192, table_name => 'logs');

-- A workflow's executions side by side: its list, count and metrics read its row groups only.
ALTER TABLE executions SET SORTED BY (workflow_id, workspace_id);
