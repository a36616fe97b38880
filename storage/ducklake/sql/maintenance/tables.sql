-- The lake's tables (maintenance works table by table).
SELECT table_name FROM duckdb_tables() WHERE database_name = 'lake' AND schema_name = 'main' ORDER BY table_name
