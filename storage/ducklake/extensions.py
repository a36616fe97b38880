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
