-- /readyz: the lake's current snapshot, read from the catalog (PostgreSQL) by every call.
FROM ducklake_current_snapshot(current_database())
