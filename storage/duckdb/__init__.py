"""The DuckDB store: one embedded file (or memory), one writer thread, per-thread readers."""
