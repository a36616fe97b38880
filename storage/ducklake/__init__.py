"""The DuckLake store: the DuckDB store's code on a DuckLake (PostgreSQL catalog + Parquet files)."""
