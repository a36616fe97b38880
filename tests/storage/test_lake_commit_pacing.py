"""How a lake node's writer paces its commits (storage/ducklake/store.py): DuckLake runs a
commit that lost to another node's again after a short wait, not its default 100 ms (nodes
ingesting side by side conflict on most commits), and a batch waits the commit gap for more
up to the lake's larger "enough" (a lake commit's fixed cost is several times a file's)."""

from __future__ import annotations

from pathlib import Path

from flowscope.storage.duckdb.pacing import ENOUGH_ITEMS, LAKE_ENOUGH_ITEMS, CommitPacing
from flowscope.storage.ducklake.store import LAKE_RETRY_WAIT_MS, LakeStore

from tests.support.pacing import acked_at, submit_spans, wait_taken
from tests.support.postgres import Postgres

GAP = 1.0  # seconds: far above a commit here, so a wait this long is the pacing's
BATCH = 600  # spans: enough to commit at once in a file, not on a lake


def test_a_lake_retries_lost_commits_soon_and_gathers_more_per_commit(
    postgres: Postgres, tmp_path: Path
) -> None:
    assert ENOUGH_ITEMS < BATCH < LAKE_ENOUGH_ITEMS
    url = "ducklake:postgres:" + postgres.create_database("commit_pacing")
    store = LakeStore(url, tmp_path / "lake", pacing=CommitPacing(gap_seconds=GAP), commit_delay_seconds=0.3)
    store.start()
    try:
        setting = "SELECT current_setting('ducklake_retry_wait_ms')"
        assert store.read(lambda c: c.execute(setting).fetchone()[0]) == LAKE_RETRY_WAIT_MS
        first = submit_spans(store, 3)
        wait_taken(store)  # the first commits (0.3 s) ...
        second = submit_spans(store, BATCH)  # ... while this arrives: it waits the gap for more
        first_acked = acked_at(first)
        assert acked_at(second) - first_acked >= GAP * 0.9
    finally:
        store.close()
