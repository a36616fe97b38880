-- The executions table made again by 008_execution_times.sql, laid out as 007_execution_lookup.sql
-- laid out the one made by 001_schema.sql (DuckLake sets no option on a table made in the same
-- transaction).
ALTER TABLE executions SET SORTED BY (workflow_id, workspace_id, execution_id);
CALL set_option('parquet_row_group_size', 8192, table_name => 'executions');
