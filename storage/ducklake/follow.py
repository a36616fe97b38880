"""Live events across nodes: the other nodes' telemetry commits to the lake, published on this
node's event bus (storage/changes.py) as their own writers published them there.

Mechanism (measured against LISTEN/NOTIFY: README "Scale-out store"): each node's writer labels
its commits (labels.py). A follower thread polls the catalog's `ducklake_snapshot_changes`
table in PostgreSQL every `interval` seconds for the snapshots after the last one it saw
(one indexed query, ~2 ms). Of the other nodes' labelled commits it reads the inserted
workflow spans and log records with DuckLake's change feed (`table_changes` between the first
and the last of them), decodes them as `since` replay does (storage/duckdb/replay.py), and
publishes one `CommittedBatch(remote=True)` per snapshot, in snapshot order, numbered 1, 2, 3...
apart from the node's own commits. Snapshot ids are the lake's commit order: a snapshot is
committed only on top of the one before it, so none appears later below one already seen.
Its own node's commits it skips (its writer published them), and so are unlabelled commits
(catalog writes, retention, `flowscope maintain`), which insert no telemetry.

Consumers: the live feeds' hub takes remote batches like local ones (its sequencer orders
facts from any number of sources, as it orders the exporters' separate span and log requests)
and so does the API's commit watcher (api/visibility.py); the cumulative Prometheus metrics
skip them (the node that ingested a commit counts it). Nothing follows the single-file store.

Never a silent skip: a commit whose rows no longer read back as its label counts, or a
follower not caught up for `max_lag` seconds (the catalog unreachable, reads failing, a
backlog) publishes an empty batch marked `lost`, on which the hub closes every feed with
1013 so clients resync with `since` from the lake; when behind, the follower then goes on
from the newest snapshot. A read that fails is tried again next round from the same
position until then.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import duckdb
from flowscope.storage.changes import CommittedBatch, EventBus, WorkflowLogRecord, WorkflowSpan
from flowscope.storage.duckdb.replay import workflow_record, workflow_span
from flowscope.storage.ducklake import labels
from flowscope.storage.ducklake.others import catalog_connection
from flowscope.storage.ducklake.sqlfiles import required
from flowscope.storage.ducklake.url import redact

if TYPE_CHECKING:
    from flowscope.storage.ducklake.store import LakeStore

log = logging.getLogger(__name__)

DEFAULT_INTERVAL = 0.1
DEFAULT_MAX_LAG = 10.0
PAGE = 1000  # snapshots listed per query; a longer backlog is read page by page


@dataclass(frozen=True, slots=True)
class Snapshot:
    snapshot_id: int
    label: labels.Label | None


class LakeFollower:
    def __init__(
        self, store: LakeStore, bus: EventBus, *, interval: float = DEFAULT_INTERVAL,
        max_lag: float = DEFAULT_MAX_LAG,
    ) -> None:  # fmt: skip
        self._store = store
        self._bus = bus
        self._interval = interval
        self._max_lag = max_lag
        self._catalog: duckdb.DuckDBPyConnection | None = None
        self._position = -1  # the last snapshot dealt with
        self._seq = 0  # the last batch number published
        self._caught_up = time.monotonic()  # when a round last found nothing more to read
        self._behind = False  # a gap was published: go on from the newest snapshot
        self._failures = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="flowscope-lake-follower", daemon=True)
        self.gaps = 0  # holes published (tests, logs)

    def start(self) -> None:
        self.open()
        self._thread.start()

    def open(self) -> None:
        """Connect to the catalog and start from its newest snapshot: what was committed before
        is for `since` replay, as on one node. (`start` then runs `round` on its thread.)"""
        self._catalog = self._connect()
        self._position = self._catalog.execute(required("follow/head")).fetchall()[0][0]
        self._caught_up = time.monotonic()

    def _connect(self) -> duckdb.DuckDBPyConnection:
        """A DuckDB of its own with the catalog database attached (PostgreSQL, read only)."""
        return catalog_connection(self._store.lake.conninfo)

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(10)
        if self._catalog is not None:
            with contextlib.suppress(duckdb.Error):
                self._catalog.close()

    def _run(self) -> None:
        more = False
        while not self._stop.wait(0 if more else self._interval):
            try:
                more = self.round()
            except Exception:  # a bug in one round must not end live events across nodes
                log.exception("following the lake failed")
                more = False

    def round(self) -> bool:
        """List and publish what the other nodes committed since the last round; whether more
        is listed than one round reads (then the next round starts at once)."""
        now = time.monotonic()
        if not self._behind and now - self._caught_up > self._max_lag:
            self._fall_behind(now)
        try:
            if self._catalog is None:  # after a failure: a new connection (PostgreSQL restarted, ...)
                self._catalog = self._connect()
            if self._behind:
                self._position = self._catalog.execute(required("follow/head")).fetchall()[0][0]
                self._behind = False
                self._caught_up = now
                return False
            snapshots = self._list()
            followed = [
                s for s in snapshots
                if s.label is not None and s.label.node_id != self._store.node_id
                and (s.label.workflow_spans or s.label.workflow_logs)
            ]  # fmt: skip
            batches = self._read(followed) if followed else {}
        except duckdb.Error as exc:
            self._failures += 1
            if self._catalog is not None:
                with contextlib.suppress(duckdb.Error):
                    self._catalog.close()
                self._catalog = None
            if self._failures == 1 or self._failures % 100 == 0:
                log.warning(
                    "following the lake: %s (try %d)", redact(" ".join(str(exc).split())), self._failures
                )
            return False
        self._failures = 0
        if time.monotonic() - self._caught_up > self._max_lag:
            # The round itself was held past the max lag (the process stopped or starved while
            # it listed): what it read may be some of what was missed, so it is not streamed.
            self._fall_behind(time.monotonic())
            return False
        for snapshot in followed:
            spans, records = batches.get(snapshot.snapshot_id, ([], []))
            assert snapshot.label is not None
            if len(spans) != snapshot.label.workflow_spans or len(records) != snapshot.label.workflow_logs:
                log.warning(
                    "following the lake: snapshot %d holds %d workflow spans and %d records, its label "
                    "says %d and %d; its events are lost for the live feeds", snapshot.snapshot_id,
                    len(spans), len(records), snapshot.label.workflow_spans, snapshot.label.workflow_logs,
                )  # fmt: skip
                self._gap()
                continue
            self._seq += 1
            self._bus.publish(CommittedBatch(self._seq, None, len(records), spans, records, remote=True))
        if snapshots:
            self._position = snapshots[-1].snapshot_id
        more = len(snapshots) == PAGE
        if not more:
            self._caught_up = now
        return more

    def _fall_behind(self, now: float) -> None:
        """Not caught up for longer than the max lag: the feeds close (`_gap`), and the next
        round skips to the lake's newest snapshot."""
        lag = now - self._caught_up
        log.warning("following the lake: %.1f s behind, skipping to its newest snapshot", lag)
        self._behind = True
        self._gap()

    def _gap(self) -> None:
        """Commits were lost for the live feeds: the hub closes every feed with 1013 (api/ws/hub.py)."""
        self.gaps += 1
        self._seq += 1
        self._bus.publish(CommittedBatch(self._seq, None, 0, remote=True, lost=True))

    def _list(self) -> list[Snapshot]:
        assert self._catalog is not None  # (round connected it)
        rows = self._catalog.execute(
            required("follow/snapshots"), {"after": self._position, "limit": PAGE}
        ).fetchall()
        return [Snapshot(sid, labels.parse(author, message, extra)) for sid, author, message, extra in rows]

    def _read(
        self, followed: list[Snapshot]
    ) -> dict[int, tuple[list[WorkflowSpan], list[WorkflowLogRecord]]]:
        """The workflow spans and records of the `followed` snapshots, by snapshot."""
        ids = [s.snapshot_id for s in followed]
        params = {"first": ids[0], "last": ids[-1], "snapshots": ids}
        cur = self._store.cursor()
        out: dict[int, tuple[list[WorkflowSpan], list[WorkflowLogRecord]]] = {}
        if any(s.label is not None and s.label.workflow_spans for s in followed):
            for sid, workspace_id, *row in cur.execute(required("follow/workflow_spans"), params).fetchall():
                out.setdefault(sid, ([], []))[0].append(workflow_span(workspace_id, row))
        if any(s.label is not None and s.label.workflow_logs for s in followed):
            for sid, workspace_id, *row in cur.execute(
                required("follow/workflow_records"), params
            ).fetchall():
                out.setdefault(sid, ([], []))[1].append(workflow_record(workspace_id, row))
        return out
