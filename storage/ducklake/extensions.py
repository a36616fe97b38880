"""DuckLake's DuckDB extensions, from the PyPI wheels rather than the network.

`duckdb-extension-ducklake` and `duckdb-extension-postgres` ship the signed extension binaries
of one DuckDB release at `<package>/extensions/v<duckdb version>/<name>.duckdb_extension`
(their `__init__` is empty). `INSTALL '<that file>'` copies one into DuckDB's extension
directory under its canonical name (the postgres file becomes `postgres_scanner`, the name
its entry point needs: a plain `LOAD '<file>'` of it fails), so that every DuckDB instance
of this process can load it, as connecting to a `ducklake:` database does by itself
(autoloading), without a download. Installing again is a no-op.
"""

from __future__ import annotations

import importlib
from importlib import resources
from pathlib import Path

import duckdb

# (wheel module, extension file name), postgres first: the ducklake catalog needs it.
_WHEELS = (("duckdb_extension_postgres", "postgres"), ("duckdb_extension_ducklake", "ducklake"))

# The config of every DuckDB instance a serving node opens on a lake (the store's, the
# follower's). Never download an extension: the wheels' are installed by `install`.
# `disable_database_invalidation`: DuckLake 1.5.5 (d8a1881e) throws an InternalException
# ("Attempted to access index 0 within vector of size 0", in
# DuckLakeInlinedDataReader::TryInitializeScan) when PostgreSQL ends the catalog session while
# a statement reads a table's inlined rows. DuckDB invalidates the whole instance on an
# InternalException: every later statement, ROLLBACK included, fails FATAL, and closing a
# cursor whose transaction is still open then throws out of ~ClientContext, which aborts
# the process (SIGABRT). Invalidation guards a database file DuckDB stores itself; a lake
# node has none: its catalog is PostgreSQL, whose transaction ends with the session, and its
# data are Parquet files no snapshot names until that transaction commits. So the failed
# statement fails (its commit answers 503, the exporter sends it again) and the node goes on.
# Upstream: the same invalidation is duckdb/duckdb-postgres issue 577 (open, 1.5.3 and 1.5.5);
# duckdb/ducklake PR 1359 reproduces it on builds without duckdb/duckdb-postgres PR 568.
# README "When PostgreSQL or the data path fails"; tests/storage/test_lake_failures.py.
CONFIG: dict[str, str | bool] = {"autoinstall_known_extensions": False, "disable_database_invalidation": True}


class ExtensionMissing(RuntimeError):
    pass


def available() -> bool:
    """Whether this environment can open a lake (the `lake` extra is installed)."""
    try:
        for module, name in _WHEELS:
            extension_file(module, name)
    except ExtensionMissing:
        return False
    return True


def extension_file(module: str, name: str) -> Path:
    version = duckdb.__version__
    try:
        root = Path(str(resources.files(importlib.import_module(module))))
    except ImportError:
        package = module.replace("_", "-")
        raise ExtensionMissing(
            f"the {package} package is not installed: the DuckLake store needs "
            "pip install 'flowscope[lake]' (DuckDB 1.5.5 with its ducklake and postgres extensions)"
        ) from None
    path = root / "extensions" / f"v{version}" / f"{name}.duckdb_extension"
    if not path.is_file():
        raise ExtensionMissing(
            f"{module} holds no build for duckdb {version} ({path} is missing): the DuckLake store "
            "runs on the DuckDB its extensions were built for: pip install 'flowscope[lake]'"
        )
    return path


def install(con: duckdb.DuckDBPyConnection) -> None:
    """Install (once) and load the extensions into `con`'s DuckDB instance."""
    for module, name in _WHEELS:
        con.execute(f"INSTALL '{extension_file(module, name)}'")
    for _, name in _WHEELS:
        con.execute(f"LOAD {name}")
