"""What a node reads of the other nodes' commits (storage/ducklake/others.py): the keys of every
row they inserted, from the Parquet files they added, or through DuckLake's insertions where a
commit inlined its rows into the catalog (a few rows: DuckLake's data inlining)."""

from __future__ import annotations

from pathlib import Path

from flowscope.collector.prepare import prepared_request
from flowscope.storage.ducklake.others import OtherCommits, span_ids
from flowscope.storage.ducklake.store import LakeStore

from tests.collector.helpers import all_spans, spans_request
from tests.support.postgres import Postgres


def _commit(store: LakeStore, spans: int) -> None:
    request, _ = spans_request(spans)
    assert (
        store.writer.submit(prepared_request("traces", request, "default", spans)).result(60).accepted
        == spans
    )
    assert len(all_spans(request)) == spans


def test_another_nodes_inserted_keys_are_read_from_files_and_inlined_rows(
    postgres: Postgres, tmp_path: Path
) -> None:
    conninfo = postgres.create_database("other_commits")
    store = LakeStore("ducklake:postgres:" + conninfo, tmp_path / "lake")  # "the other node"
    store.start()
    others = OtherCommits(conninfo, "this-node", store.data_path)
    try:
        others.open()
        con = store.cursor()
        for spans in (3, 700, 5, 900):  # 3 and 5 rows are inlined (DuckLake's limit: 10)
            _commit(store, spans)
            read = others.read(con)
            assert read.snapshots == 1 and read.spans is not None
            stored = con.execute(
                "SELECT span_id FROM spans ORDER BY start_ns DESC LIMIT ?", [spans]
            ).fetchall()
            assert read.spans.num_rows == spans
            assert {i.split("\0")[2] for i in read.spans.column("id").to_pylist()} == {s for (s,) in stored}
            snapshot = read.spans.column("snapshot_id")[0].as_py()
            files = others._files({"spans": [snapshot]}).get("spans")
            if spans > 10:  # read from the Parquet file it added, at its path under the data path
                assert files is not None and files.num_rows == 1
                assert Path(files.column("path")[0].as_py()).is_file()
            else:  # inlined: no file, read through DuckLake's insertions
                assert files is None
        # Several commits at once, files and inlined rows together: every key, once.
        for spans in (4, 600, 800):
            _commit(store, spans)
        read = others.read(con)
        assert read.snapshots == 3 and read.spans is not None
        ids = read.spans.column("id")
        every = span_ids(con.execute("SELECT workspace_id, trace_id, span_id FROM spans").to_arrow_table())
        assert len(ids) == len(set(ids.to_pylist())) == 4 + 600 + 800
        assert set(ids.to_pylist()) <= set(every.to_pylist())
        assert others.read(con).snapshots == 0  # nothing new
    finally:
        others.close()
        store.close()
