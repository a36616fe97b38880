"""bench/api_queries.py's dataset on a DuckLake (`--store ducklake`): the same executions,
stored through the lake store's real writer into a lake whose catalog is a real PostgreSQL
(tests/support/postgres.py, Debian's binaries) and whose Parquet files are under the cache,
then compacted as `flowscope maintain` does (storage/ducklake/maintenance.py, one round).

Cached under bench/.cache/lake-<executions>-duckdb<version>-l<layout>/ (`pg/`: the stopped
catalog cluster, `data/`: the Parquet files), rebuilt when the dataset generator or the lake's
layout (LAYOUT below: the schema's migrations that change how files are written) changes.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb

from tests.support.postgres import Postgres, start_postgres

DBNAME = "bench"
# Bump when the lake's migrations change how its files are laid out (sort order, partitions):
# a cached lake of an older layout is rebuilt. (A cached lake is otherwise migrated when a
# node opens it, but its files keep the layout they were written in.) 3: executions sorted
# by id within each workflow (lake migration 007); 4: the same, but layout-3 caches recorded
# that migration as 006 (its number before it landed), which is now workflow_time_rollups;
# 5: copied from the file migrated first (a layout-4 copy could leave workflow_time_rollups empty);
# 6: spans and logs rewritten into trace id ranges of 128 MB files by the round (lake migration 011,
# storage/ducklake/key_ranges.py); 7: the same for files older than two days only.
LAYOUT = 7


@dataclass
class Lake:
    root: Path
    pg: Postgres

    @property
    def url(self) -> str:
        return "ducklake:postgres:" + self.pg.conninfo(DBNAME)

    @property
    def data_path(self) -> str:
        return str(self.root / "data") + "/"

    @property
    def meta(self) -> Path:
        return self.root / "meta.json"

    def serve_args(self) -> list[str]:
        return ["--store", self.url, "--data-path", self.data_path]

    def connect(self) -> duckdb.DuckDBPyConnection:
        """A DuckDB connection with the lake as its default database (read as a node reads it)."""
        from flowscope.storage.ducklake import extensions

        boot = duckdb.connect()
        extensions.install(boot)
        boot.close()
        return duckdb.connect(self.url, config={"autoinstall_known_extensions": False})


def lake_dir(executions: int, cache: Path, *, copied: bool = False) -> Path:
    suffix = "-copied" if copied else ""
    return cache / f"lake-{executions}-duckdb{duckdb.__version__}-l{LAYOUT}{suffix}"


@contextlib.contextmanager
def opened(root: Path) -> Iterator[Lake]:
    """The cached lake at `root`, its catalog server running until the block ends."""
    pg = start_postgres(root / "pg")
    try:
        yield Lake(root, pg)
    finally:
        pg.stop()


def cached(root: Path, dataset_version: int) -> bool:
    try:
        meta = json.loads((root / "meta.json").read_text())
    except (OSError, ValueError):
        return False
    return bool(meta.get("version") == dataset_version and meta.get("compacted"))


def build(root: Path, executions: int, dataset_version: int, store_into: object) -> None:
    """A new lake at `root` (any old one removed): the dataset stored through the lake store's
    writer by `store_into(store, executions)` (api_queries.store_dataset, returning the data's
    end time), then compacted."""
    from flowscope.storage.ducklake.store import LakeStore

    with _new(root) as lake:
        store = LakeStore(lake.url, lake.data_path, max_queue_items=400_000, max_batch_items=100_000)
        end_ns = store_into(store, executions)  # type: ignore[operator]
        _compact(lake)
        meta = {"version": dataset_version, "executions": executions, "end_ns": end_ns, "compacted": True}
        lake.meta.write_text(json.dumps(meta))


def build_from_file(root: Path, source: Path, dataset_version: int) -> None:
    """A new lake at `root` holding the rows of the DuckDB file dataset `source` (which the
    writer stored), copied table by table in chunks of COPY_CHUNK_ROWS rows in the file's
    insertion order (as the writer's commits of up to 100,000 items wrote them), then compacted
    by the same round as `build`. Many times faster than storing the dataset through the lake
    store's writer (whose commits are the lake's real ingest), for sizes that would take an
    hour that way; the compacted layout is the same (files merged in commit order)."""
    from flowscope.storage.duckdb.store import Store
    from flowscope.storage.ducklake.store import LakeStore

    # The file at this version's schema first: a table its older schema lacks (a rollup added by
    # a later migration) would otherwise be left empty in the lake, whose readers then fall back.
    Store(source).close()
    with _new(root) as lake:
        LakeStore(lake.url, lake.data_path).close()  # the schema, by the store's migrations
        started = time.perf_counter()
        with lake.connect() as con:
            con.execute(f"ATTACH '{source}' AS src (READ_ONLY)")
            (executions, end_ns) = con.execute("SELECT executions, end_ns FROM src.bench_api_meta").fetchone()  # type: ignore[misc]
            tables = [t for (t,) in con.execute(_SHARED_TABLES).fetchall()]
            for table in tables:
                where = "WHERE id NOT IN (SELECT id FROM workspaces)" if table == "workspaces" else ""
                if not where:  # the file's rows replace what the migrations put (step_summaries_sealed)
                    con.execute(f"DELETE FROM {table}")
                (rows,) = con.execute(f"SELECT count(*) FROM src.{table}").fetchone()  # type: ignore[misc]
                (top,) = con.execute(f"SELECT coalesce(max(rowid) + 1, 0) FROM src.{table}").fetchone()  # type: ignore[misc]
                for first in range(0, top, COPY_CHUNK_ROWS):
                    con.execute(
                        f"INSERT INTO {table} BY NAME SELECT * FROM src.{table} "
                        f"{where or 'WHERE true'} AND rowid >= {first} AND rowid < {first + COPY_CHUNK_ROWS} "
                        "ORDER BY rowid"
                    )
                print(f"  copied {table} ({rows:,} rows in the file)", file=sys.stderr, flush=True)
        print(f"  copied in {time.perf_counter() - started:.0f} s", file=sys.stderr)
        _compact(lake)
        meta = {
            "version": dataset_version, "executions": executions, "end_ns": end_ns, "compacted": True,
            "copied_from": source.name,
        }  # fmt: skip
        lake.meta.write_text(json.dumps(meta))


COPY_CHUNK_ROWS = 100_000
# The tables both hold, but the files' own (the migrations' record, the bench's meta).
_SHARED_TABLES = """
SELECT table_name FROM duckdb_tables() WHERE database_name = 'src' AND schema_name = 'main'
  AND table_name IN (SELECT table_name FROM duckdb_tables() WHERE database_name = current_database())
  AND table_name NOT IN ('schema_version', 'bench_api_meta')
ORDER BY table_name
"""


@contextlib.contextmanager
def _new(root: Path) -> Iterator[Lake]:
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    with opened(root) as lake:
        lake.pg.create_database(DBNAME)
        yield lake


def _compact(lake: Lake) -> None:
    """One round as `flowscope maintain` runs it, keeping nothing old (no node reads it yet)."""
    from flowscope.storage.ducklake.maintenance import Maintainer, Policy
    from flowscope.storage.ducklake.url import parse_lake

    started = time.perf_counter()
    policy = Policy(snapshot_retention_seconds=0, file_grace_seconds=0)
    maintainer = Maintainer(parse_lake(lake.url), lake.data_path, policy)
    try:
        print(f"  {maintainer.run_round().line()}", file=sys.stderr, flush=True)
    finally:
        maintainer.close()
    print(f"  compacted in {time.perf_counter() - started:.0f} s", file=sys.stderr)
