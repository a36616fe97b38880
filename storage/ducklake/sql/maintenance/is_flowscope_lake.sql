-- Whether a serve node created the Flowscope schema in the attached lake (maintain creates nothing).
SELECT 1 FROM duckdb_tables() WHERE database_name = 'lake' AND table_name = 'schema_version'
