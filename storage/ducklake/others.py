"""What the other nodes of a lake committed, for this node's dedupe (storage/ducklake/writer.py).

A node's dedupe filters (storage/seen.py; storage/duckdb/writer.py) hold what the lake held when
the node started and what the node stored since. What the other nodes commit after that reaches
this node here, read by its writer thread before and after each commit and when idle:

- `OtherCommits.read` lists the lake's snapshots after the last one read, from the catalog's
  `ducklake_snapshot_changes` in PostgreSQL (one indexed query, as the live-events follower
  does: follow.py), and of those that another node's commit (or any commit without this node's
  label) inserted spans, log records or execution rows in (DuckLake's `changes_made` names the
  tables), reads the inserted keys, one statement per table named. Its own labelled commits it
  skips: its filters have them. The keys come from the Parquet files those snapshots added
  (listed from the catalog, read as plain Parquet: ~3 ms of a statement's 7-11 ms through
  DuckLake's `ducklake_table_insertions`, which pays DuckLake's catalog work per statement),
  unless a snapshot inlined its rows into the catalog (DuckLake's inlining: a commit of a few
  rows) or the files listed do not cover every snapshot: then through `ducklake_table_insertions`.
- `OtherKeys` keeps them: Bloom filters of their own (a batch's rows are screened against them
  at commit time, since the other nodes' keys arrive after the batch was screened against this
  node's filters at submit), and the last `RECENT_SPANS` span ids exactly, so a retry of a batch
  another node committed is known stored without a lake lookup (the records' go into the
  writer's recent records, which serve the same purpose for its own commits).

A node far behind (more than `PAGE` snapshots: the catalog was unreachable for long) does not
read the backlog: `read` jumps to the newest snapshot and says so, and the writer rebuilds its
filters from the tables, which hold every node's rows.
"""

from __future__ import annotations

import contextlib
from collections import deque
from dataclasses import dataclass, field

import duckdb
import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
from flowscope.storage.ducklake import extensions, labels
from flowscope.storage.ducklake.sqlfiles import required
from flowscope.storage.seen import SpanFilter
from prometheus_client import CollectorRegistry, Counter

PAGE = 1000  # snapshots listed per read; a longer backlog is skipped (the filters are rebuilt)
RECENT_SPANS = 100_000  # span ids of other nodes' commits kept exactly (~10 MB): seconds of ingest
_IN_FILES, _INLINED = "inserted_into_table:", "inlined_insert:"
_TABLES = ("spans", "logs", "executions")
_READS = {  # table -> the statement reading its inserted keys, the `Read` field they go to
    "spans": ("ingest/other_span_keys", "spans"),
    "logs": ("ingest/other_record_keys", "records"),
    "executions": ("ingest/other_execution_keys", "executions"),
}
_NO_KEYS = np.zeros(0, dtype=np.uint64)


def catalog_connection(conninfo: str) -> duckdb.DuckDBPyConnection:
    """A DuckDB of its own with the lake's catalog database attached (PostgreSQL, read only)."""
    con = duckdb.connect(config=extensions.CONFIG)  # (no invalidation: why there)
    try:
        extensions.install(con)
        con.execute(f"ATTACH {_literal(conninfo)} AS lake_catalog (TYPE postgres, READ_ONLY)")
    except BaseException:
        con.close()
        raise
    return con


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


class LakeDedupeMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.lookups = Counter(
            "flowscope_lake_dedupe_lookups_total",
            "Queries of the lake a commit ran to find rows of its batch stored before (by any node): "
            "only for rows the dedupe filters may have seen",
            ["table"],
            registry=registry,
        )
        for table in ("spans", "logs", "executions"):
            self.lookups.labels(table)  # shown from the start, at 0
        self.repairs = Counter(
            "flowscope_lake_dedupe_repairs_total",
            "Commits after which another node was found to have committed some of the same rows at "
            "the same time, and the copies were removed",
            registry=registry,
        )
        self.other_commits = Counter(
            "flowscope_lake_other_commits_read_total",
            "Other nodes' commits whose inserted keys this node read into its dedupe filters",
            registry=registry,
        )


@dataclass
class Read:
    """What one `OtherCommits.read` found."""

    skipped: bool = False  # the backlog was too long: nothing read, the position is the newest
    own: int | None = None  # the last snapshot this node committed (labelled) among those listed
    snapshots: int = 0  # the other commits read
    spans: pa.Table | None = None  # snapshot_id, id, key
    records: pa.Table | None = None  # snapshot_id, workspace_id, record_hash
    executions: pa.Table | None = None  # snapshot_id, id, key

    def before_own(self, table: pa.Table | None) -> pa.Table | None:
        """The rows of `table` that commits before this node's own one inserted (those after it
        committed on top of it: their nodes see this one's rows, and check them)."""
        if table is None or self.own is None:
            return table
        return table.filter(pc.less(table.column("snapshot_id"), self.own))


class OtherCommits:
    def __init__(self, conninfo: str, node_id: str, data_path: str) -> None:
        self._conninfo = conninfo
        self._node_id = node_id
        self._data_path = data_path  # this node's, with its trailing slash (LakeStore.data_path)
        self._catalog: duckdb.DuckDBPyConnection | None = None
        self._tables: dict[int, str] = {}
        self.position = -1  # the last snapshot dealt with

    def open(self) -> None:
        """Start from the lake's newest snapshot (before the filters are built from the tables,
        so nothing committed in between is missed)."""
        self.position = self._head()

    def close(self) -> None:
        if self._catalog is not None:
            with contextlib.suppress(duckdb.Error):
                self._catalog.close()
            self._catalog = None

    def _connection(self) -> duckdb.DuckDBPyConnection:
        if self._catalog is None:  # first use, or after a failure (PostgreSQL restarted, ...)
            self._catalog = catalog_connection(self._conninfo)
        return self._catalog

    def _head(self) -> int:
        return int(self._query(required("follow/head"), {})[0][0])

    def _query(self, statement: str, params: dict[str, object]) -> list[tuple[object, ...]]:
        try:
            return self._connection().execute(statement, params).fetchall()
        except duckdb.Error:
            self.close()
            raise

    def read(self, lake: duckdb.DuckDBPyConnection) -> Read:
        """The keys the other commits after `position` inserted, read through `lake` (the
        writer's connection); `position` then is the last snapshot listed. A failure raises
        (duckdb.Error) and leaves `position` where it was: the next read tries again."""
        rows = self._query(required("ingest/other_snapshots"), {"after": self.position, "limit": PAGE})
        if len(rows) == PAGE:
            self.position = self._head()
            return Read(skipped=True)
        out = Read()
        inserting: dict[str, list[int]] = {t: [] for t in _TABLES}
        inlined: set[str] = set()  # tables some snapshot inserted catalog rows in
        for snapshot_id, author, message, changes in rows:
            if author == labels.AUTHOR and message == self._node_id:
                out.own = int(snapshot_id)
                continue
            in_files, in_catalog = self._inserted(str(changes or ""))
            for table in in_files | in_catalog:
                inserting[table].append(int(snapshot_id))
            inlined |= in_catalog
            out.snapshots += bool(in_files | in_catalog)
        named = {table: ids for table, ids in inserting.items() if ids}
        files = self._files({t: ids for t, ids in named.items() if t not in inlined})
        for table, ids in named.items():
            name, attribute = _READS[table]
            inserted_files = files.get(table)  # scanned by name (inserted_in_files.sql)
            if inserted_files is not None:
                source = required("ingest/inserted_in_files")
                params: dict[str, object] = {"files": inserted_files.column("path").to_pylist()}
            else:
                source = required("ingest/inserted_by_snapshots").replace("{table}", table)
                params = {"first": ids[0], "last": ids[-1], "snapshots": ids}
            statement = required(name).replace("{inserted}", source)
            setattr(out, attribute, lake.execute(statement, params).to_arrow_table())
        if rows:
            self.position = int(rows[-1][0])
        return out

    def _files(self, inserting: dict[str, list[int]]) -> dict[str, pa.Table]:
        """Per table of `inserting`, the Parquet files its snapshots added (snapshot_id, path),
        where they cover every one of its snapshots (else the table is left out)."""
        ids = sorted({i for snapshots in inserting.values() for i in snapshots})
        if not ids:
            return {}
        params = {
            "first": ids[0], "last": ids[-1], "snapshots": ids, "tables": sorted(inserting),
            "data_path": self._data_path,
        }  # fmt: skip
        added: dict[str, tuple[list[int], list[str]]] = {}
        for snapshot_id, table, path in self._query(required("ingest/other_files"), params):
            snapshots, paths = added.setdefault(str(table), ([], []))
            snapshots.append(int(snapshot_id))  # type: ignore[call-overload]  (a catalog integer)
            paths.append(str(path))
        return {
            table: pa.table({"snapshot_id": pa.array(snapshots, pa.int64()), "path": paths})
            for table, (snapshots, paths) in added.items()
            if set(snapshots) == set(inserting[table])
        }

    def _inserted(self, changes: str) -> tuple[set[str], set[str]]:
        """The telemetry tables a snapshot's `changes_made` says it inserted rows in: in Parquet
        files, and in catalog rows (inlined)."""
        entries = changes.split(",")
        in_files = {int(c.split(":", 1)[1]) for c in entries if c.startswith(_IN_FILES)}
        in_catalog = {int(c.split(":", 1)[1]) for c in entries if c.startswith(_INLINED)}
        if not (in_files | in_catalog) <= self._tables.keys():  # a table created since (or the first read)
            self._tables = {int(i): str(name) for i, name in self._query(required("ingest/lake_tables"), {})}
        return self._named(in_files), self._named(in_catalog)

    def _named(self, table_ids: set[int]) -> set[str]:
        return {name for i in table_ids if (name := self._tables.get(i, "")) in _TABLES}


@dataclass
class OtherKeys:
    """The keys of the other nodes' commits read so far (the writer thread's alone)."""

    spans: SpanFilter = field(default_factory=SpanFilter)
    records: SpanFilter = field(default_factory=SpanFilter)
    executions: SpanFilter = field(default_factory=SpanFilter)
    _recent: deque[pa.Array] = field(default_factory=deque)
    _recent_rows: int = 0

    def add(self, read: Read) -> None:
        if read.spans is not None and read.spans.num_rows:
            self.spans.add(_keys(read.spans.column("key")))
            ids = read.spans.column("id").combine_chunks()
            self._recent.append(ids)
            self._recent_rows += len(ids)
            while self._recent_rows > RECENT_SPANS and len(self._recent) > 1:
                self._recent_rows -= len(self._recent.popleft())
        if read.records is not None and read.records.num_rows:
            self.records.add(_keys(read.records.column("record_hash")))
        if read.executions is not None and read.executions.num_rows:
            self.executions.add(_keys(pc.drop_null(read.executions.column("key"))))

    def reset(self) -> None:
        """After the writer rebuilt its own filters from the tables: they hold all of this."""
        self.spans, self.records, self.executions = SpanFilter(), SpanFilter(), SpanFilter()
        self._recent.clear()
        self._recent_rows = 0

    def known_spans(self, ids: pa.Array) -> npt.NDArray[np.bool_]:
        """Per span id (workspace, trace id, span id joined with NUL): whether another node's
        commit read lately inserted it (exact)."""
        if not self._recent:
            return np.zeros(len(ids), dtype=np.bool_)
        recent = pa.chunked_array(list(self._recent)).combine_chunks()
        return pc.is_in(ids, value_set=recent).to_numpy(zero_copy_only=False)  # type: ignore[no-any-return]


def span_ids(spans: pa.Table) -> pa.Array:
    """Each span row's id as other_span_keys.sql gives it: workspace, trace id, span id joined with NUL."""
    joined = pc.binary_join_element_wise(
        spans.column("workspace_id"), spans.column("trace_id"), spans.column("span_id"), "\0"
    )
    return joined.combine_chunks() if isinstance(joined, pa.ChunkedArray) else joined


def _keys(column: pa.ChunkedArray | pa.Array) -> npt.NDArray[np.uint64]:
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    return array.to_numpy(zero_copy_only=False).astype(np.uint64, copy=False) if len(array) else _NO_KEYS
