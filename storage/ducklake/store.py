"""The DuckLake store: the DuckDB store (storage/duckdb/store.py) on a DuckLake whose catalog
is a PostgreSQL database and whose data are Parquet files under a data path.

The DuckDB process connects to the lake itself (`duckdb.connect('ducklake:postgres:...')`), so
the lake is the default database of every cursor and the DuckDB store's statements run
unchanged; the store replaces only what DuckLake lacks (its schema without constraints and
indexes, statements without RETURNING: sql/). One writer per node, as in the file.

Not here yet (issue 14): several nodes on one lake (live events across nodes, the engine
across nodes), compaction and snapshot expiry (`flowscope maintain`): every commit writes
its own small Parquet files, or, up to DuckLake's inlining limit (10 rows), catalog rows.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import duckdb
from flowscope.storage.duckdb.schema import migrate
from flowscope.storage.duckdb.store import Store
from flowscope.storage.ducklake import extensions
from flowscope.storage.ducklake.catalog import LakeCatalog
from flowscope.storage.ducklake.sqlfiles import SQL_DIR, required
from flowscope.storage.ducklake.url import LakeUrl, parse_lake, redact
from flowscope.storage.ducklake.writer import LakeWriter
from flowscope.storage.errors import StoreOpenError

MIGRATIONS = SQL_DIR / "migrations"


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def is_remote(data_path: str) -> bool:
    """An object-storage data path (s3://, gs://, ...), passed to DuckLake as it is."""
    return "://" in data_path


class LakeStore(Store):
    writer_type = LakeWriter

    def __init__(
        self, url: LakeUrl | str, data_path: str | Path, *, inline_rows: int | None = None, **options: Any
    ) -> None:
        """`inline_rows`: when given, DuckLake's data inlining limit recorded in the lake (commits
        of up to that many rows of a table go to catalog rows instead of a Parquet file; its
        default is 10, 0 writes every commit as Parquet). `options`: the DuckDB store's."""
        self.lake = url if isinstance(url, LakeUrl) else parse_lake(url)
        self._inline_rows = inline_rows
        data = str(data_path)
        # DuckLake joins file names to the data path as given: a directory needs its slash.
        self.data_path = data if data.endswith("/") else data + "/"
        super().__init__(self.lake.url, **options)
        self.catalog = LakeCatalog(self)

    def described(self) -> str:
        return self.lake.redacted()

    def _open(self) -> duckdb.DuckDBPyConnection:
        """Create the lake, or check it opens, on a connection of its own with the data path
        (a new lake records it in its catalog); then connect to the lake itself."""
        if not is_remote(self.data_path):
            Path(self.data_path).mkdir(parents=True, exist_ok=True)
        boot = duckdb.connect(config={"autoinstall_known_extensions": False})
        try:
            extensions.install(boot)
            boot.execute(f"ATTACH {_literal(self.lake.url)} AS lake (DATA_PATH {_literal(self.data_path)})")
            if self._inline_rows is not None:
                boot.execute("CALL lake.set_option('data_inlining_row_limit', ?)", [self._inline_rows])
            boot.close()
            return self._connect()
        except (duckdb.Error, extensions.ExtensionMissing) as exc:
            # DuckDB's message repeats the conninfo, password included: never pass it on (nor
            # chain the exception, which tracebacks would print).
            reason = redact(" ".join(str(exc).split()))
            raise StoreOpenError(f"cannot open the lake {self.described()}: {reason}") from None
        finally:
            with contextlib.suppress(duckdb.Error):
                boot.close()

    def _connect(self) -> duckdb.DuckDBPyConnection:
        # Never download an extension: the wheels' were installed by _open. Parquet footers
        # are cached: a lake's files never change once written (a rewrite is a new file), and
        # every read by id otherwise parses the footer of every file of its table again.
        con = duckdb.connect(self.path, config={**self._config, "autoinstall_known_extensions": False})
        con.execute("SET GLOBAL parquet_metadata_cache = true")  # not a connect option: parquet loads later
        return con

    def _migrate(self, con: duckdb.DuckDBPyConnection) -> int:
        return migrate(con, MIGRATIONS, required("schema_version"))

    def _checkpoint(self) -> None:
        """Nothing at close: a lake's CHECKPOINT compacts and expires what every node wrote,
        which is the maintenance process's job (issue 14), not a closing node's."""
