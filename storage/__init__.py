"""Storage: where telemetry is kept, behind small interfaces (`flowscope.storage.interfaces`).

Everything store-specific (SQL, blob decoding, DuckDB's workarounds and exceptions) lives in
one implementation package per store, today `flowscope.storage.duckdb`.
"""
