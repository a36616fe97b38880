"""The lake's read layout (storage/ducklake/sql/migrations/004_read_layout.sql): the Parquet
files of spans and logs hold their rows in trace id order, in row groups of at most 8,192
rows, both as a commit writes them and once `flowscope maintain` merged them; so a read by
trace id touches one small row group of each file (the Parquet statistics below show it)."""

from __future__ import annotations

import itertools
import random
import re
import threading
import time
from pathlib import Path
from typing import Any

import duckdb
from flowscope.storage.ducklake.key_ranges import WIDE_SHARE, KeyFile
from flowscope.storage.ducklake.maintenance import KEY_ORDERED, Maintainer, Policy, Round
from flowscope.storage.ducklake.store import LakeStore
from flowscope.storage.ducklake.url import parse_lake

from tests.storage.conformance.otlp import RecordSpec, SpanSpec, logs, traces, write
from tests.support.postgres import Postgres

ROW_GROUP_ROWS = 8192
TRACES_PER_COMMIT = 2_000  # 3 spans each: 6,000 rows a commit, 12,000 once two are merged
START_NS = 1_700_000_000 * 10**9


def _commit(store: LakeStore, rnd: random.Random, start_ns: int = START_NS) -> list[str]:
    ids = [rnd.randbytes(16).hex() for _ in range(TRACES_PER_COMMIT)]
    spans = [
        SpanSpec(t, rnd.randbytes(8).hex(), f"span {n}", start_ns + n, start_ns + n + 1)
        for t in ids
        for n in range(3)
    ]
    records = [RecordSpec(start_ns, "hello", trace_id=t, span_id=rnd.randbytes(8).hex()) for t in ids]
    write(store, traces(spans), "default")
    write(store, logs(records), "default")
    return ids


def parquet_lake(postgres: Postgres, tmp_path: Path, name: str) -> tuple[str, Path, LakeStore]:
    """A new lake's URL, data path and started store, every commit written as Parquet files."""
    url = "ducklake:postgres:" + postgres.create_database(name)
    data = tmp_path / "data"
    store = LakeStore(url, data, inline_rows=0)
    store.start()
    return url, data, store


def _files(store: LakeStore, table: str) -> list[str]:
    def read(con: duckdb.DuckDBPyConnection) -> list[str]:
        catalog = con.execute("SELECT current_database()").fetchone()[0]  # type: ignore[index]
        rows = con.execute("SELECT data_file FROM ducklake_list_files(?, ?)", [catalog, table]).fetchall()
        return [r[0] for r in rows]

    return store.read(read)


def _layout(path: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    """A file's trace ids in stored order, and its row groups' (rows, min, max) of trace_id."""
    with duckdb.connect() as con:
        ids = [
            r[0]
            for r in con.execute(
                "SELECT trace_id FROM read_parquet(?, file_row_number = true) ORDER BY file_row_number",
                [path],
            ).fetchall()
        ]
        groups = con.execute(
            "SELECT num_values, stats_min_value, stats_max_value FROM parquet_metadata(?) "
            "WHERE path_in_schema = 'trace_id' ORDER BY row_group_id",
            [path],
        ).fetchall()
    return ids, groups


def _assert_laid_out(store: LakeStore, table: str, rows: int) -> None:
    files = _files(store, table)
    assert files
    seen = 0
    for path in files:
        ids, groups = _layout(path)
        seen += len(ids)
        assert ids == sorted(ids), f"{table}: {path} is not in trace id order"
        assert all(n <= ROW_GROUP_ROWS for n, _, _ in groups), groups
        # Sorted row groups do not overlap: a lookup by id reads one of them (or two at an edge).
        assert all(a[2] <= b[1] for a, b in itertools.pairwise(groups)), groups
    assert seen == rows


def test_spans_and_logs_are_stored_by_trace_in_small_row_groups(postgres: Postgres, tmp_path: Path) -> None:
    url, data, store = parquet_lake(postgres, tmp_path, "layout_lake")
    rnd = random.Random(14)
    try:
        first = _commit(store, rnd) + _commit(store, rnd)
        assert len(_files(store, "spans")) == 2  # one file per commit, each sorted
        _assert_laid_out(store, "spans", 3 * len(first))
        _assert_laid_out(store, "logs", len(first))

        maintainer = Maintainer(parse_lake(url), str(data), Policy(snapshot_retention_seconds=0))
        try:
            assert maintainer.run_round().files_merged >= 4
        finally:
            maintainer.close()
        assert len(_files(store, "spans")) == 1  # merged, and sorted across both commits
        _assert_laid_out(store, "spans", 3 * len(first))
        _assert_laid_out(store, "logs", len(first))
        # What was written is read back by id from the merged files.
        sample = rnd.sample(first, 20)
        found = store.traces.get_traces("default", sample, max_spans=100)
        assert sorted(t.trace_id for t in found) == sorted(sample)
        assert all(len(t.spans) == 3 for t in found)
    finally:
        store.close()


def _key_files(store: LakeStore, table: str) -> list[KeyFile]:
    time_column = KEY_ORDERED[table]

    def read(con: duckdb.DuckDBPyConnection) -> list[KeyFile]:
        catalog = con.execute("SELECT current_database()").fetchone()[0]  # type: ignore[index]
        query = "SELECT data_file, data_file_size_bytes FROM ducklake_list_files(?, ?)"
        files = con.execute(query, [catalog, table]).fetchall()
        found = []
        for path, size in files:
            [(first, last)] = con.execute(
                "SELECT min(stats_min_value), max(stats_max_value) FROM parquet_metadata(?) "
                "WHERE path_in_schema = 'trace_id'",
                [path],
            ).fetchall()
            [(newest,)] = con.execute(f"SELECT max({time_column}) FROM read_parquet(?)", [path]).fetchall()
            found.append(KeyFile(path, size, first, last, newest))
        return found

    return store.read(read)


def _files_read(store: LakeStore, trace_id: str) -> int:
    """How many span files a read of one trace opens (DuckLake prunes the others by the
    trace id ranges in its catalog)."""
    plan = store.read(
        lambda con: con.execute(
            "EXPLAIN ANALYZE SELECT count(*) FROM spans WHERE trace_id = ?", [trace_id]
        ).fetchall()[0][1]
    )
    match = re.search(r"Total Files Read:\s*(\d+)", plan)
    assert match, plan
    return int(match.group(1))


def test_maintain_rewrites_wide_files_into_trace_id_ranges_under_a_live_writer(
    postgres: Postgres, tmp_path: Path
) -> None:
    """Commits write files of random trace ids, each spanning nearly every id: a read by id
    opens them all. A round rewrites them in id order into files of narrow, disjoint ranges
    (storage/ducklake/key_ranges.py), while a node keeps committing, and loses or doubles no row.
    Recent files (scans by time read them) stay as they are."""
    url, data, store = parquet_lake(postgres, tmp_path, "key_order_lake")
    rnd = random.Random(15)
    try:
        # Small target files, so that a few commits make several: as 128 MB ones do at scale.
        store.cursor().execute("CALL set_option('target_file_size', '64KB', table_name => 'spans')")
        store.cursor().execute("CALL set_option('target_file_size', '16KB', table_name => 'logs')")
        ids = [t for _ in range(4) for t in _commit(store, rnd)]
        assert all(f.share > 0.9 for f in _key_files(store, "spans"))
        assert {_files_read(store, t) for t in ids[:5]} == {4}
        now_ns = time.time_ns()
        recent = _commit(store, rnd, start_ns=now_ns)
        [recent_file] = [f for f in _key_files(store, "spans") if (f.newest_ns or 0) >= now_ns]

        maintainer = Maintainer(parse_lake(url), str(data), Policy(snapshot_retention_seconds=0))
        try:
            rounds: list[Round] = []
            during = threading.Thread(target=lambda: rounds.append(maintainer.run_round()))
            during.start()
            ids += _commit(store, rnd)  # a node commits while the round runs
            during.join()
            assert not rounds[0].skipped and not rounds[0].failed, rounds[0].line()
            assert rounds[0].files_key_ordered >= 8, rounds[0].line()  # 4 span files, 4 of logs
            rounds += [maintainer.run_round(), maintainer.run_round()]
            assert rounds[2].files_key_ordered == 0, rounds[2].line()  # settled: nothing to redo
        finally:
            maintainer.close()

        _assert_laid_out(store, "spans", 3 * len(ids + recent))  # every row once, each file sorted
        _assert_laid_out(store, "logs", len(ids + recent))
        for table in ("spans", "logs"):
            settled = [f for f in _key_files(store, table) if (f.newest_ns or 0) < now_ns]
            assert len(settled) >= 4 and all(f.share <= WIDE_SHARE for f in settled), settled
            # One run over the ids, or two when the commit during the round landed after its
            # rewrite (that commit's file, rewritten by the next round): no id in more files.
            for trace_id in rnd.sample(ids, 50):
                holding = [f for f in settled if f.first <= trace_id <= f.last]  # type: ignore[operator]
                assert 1 <= len(holding) <= 2 + 1, (trace_id, holding)  # +1: a trace at a file's edge
        assert recent_file in _key_files(store, "spans")  # the recent commit's file, untouched
        # A read of a trace opens its settled file(s) and the recent one, of the 6 it opened.
        opened = [_files_read(store, t) for t in rnd.sample(ids, 20)]
        assert max(opened) <= 4 and sum(opened) <= 3 * len(opened), opened
        sample = rnd.sample(ids, 20) + rnd.sample(recent, 10)
        found = store.traces.get_traces("default", sample, max_spans=100)
        assert sorted(t.trace_id for t in found) == sorted(sample)
        assert all(len(t.spans) == 3 for t in found)
    finally:
        store.close()


def test_a_step_that_runs_out_of_memory_fails_alone(postgres: Postgres, tmp_path: Path) -> None:
    """A step whose work DuckDB can neither hold in memory nor spill (the key order sorts a
    range of ids in memory) is named failed, the lake attached anew (with its own limits), and
    the round's other steps run; the next round tries it again."""
    url, data, store = parquet_lake(postgres, tmp_path, "oom_lake")
    rnd = random.Random(16)
    try:
        store.cursor().execute("CALL set_option('target_file_size', '64KB', table_name => 'spans')")
        ids = [t for _ in range(4) for t in _commit(store, rnd)]
        maintainer = Maintainer(parse_lake(url), str(data), Policy(snapshot_retention_seconds=0))
        try:
            maintainer._con.execute("SET temp_directory = ''")  # no spilling
            maintainer._con.execute("SET memory_limit = '4MB'")
            round_ = maintainer.run_round()
            assert round_.failed, round_.line()
            assert round_.files_key_ordered >= 4 and round_.snapshots_expired > 0, round_.line()
        finally:
            maintainer.close()
        _assert_laid_out(store, "spans", 3 * len(ids))
    finally:
        store.close()
