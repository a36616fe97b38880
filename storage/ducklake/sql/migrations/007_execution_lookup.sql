-- An execution found by id without scanning every row group of its table (issue 14): a lake
-- has no index, and executions are sorted by workflow for the lists and metrics
-- (004_read_layout.sql), so the id alone is found only by reading every row group's ids (at
-- 10M spans ~75 ms of CPU a details read). Sorted by id within each workflow, in small row
-- groups, the executions of a known workflow are found in one row group: the readers take the
-- workflow ids from what they read of the trace anyway (its spans, its records:
-- storage/ducklake/executions.py). Lists and metrics read a workflow's row groups as before
-- (measured on par). Existing files are re-sorted when `flowscope maintain` rewrites them
-- (it rewrites every executions file with a deleted row, and ingest replaces rows).
ALTER TABLE executions SET SORTED BY (workflow_id, workspace_id, execution_id);
CALL set_option('parquet_row_group_size', 8192, table_name => 'executions');
