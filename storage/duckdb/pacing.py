"""When the writer commits what it has gathered: at once, or after gathering a little longer.

A commit has a fixed cost whatever it holds: on this 2-core machine ~10 ms of CPU in six to
eight DuckDB statements (BEGIN, the inserts, the execution summaries, COMMIT), against a few
µs per span. Under a steady stream of small requests (triggers, and the engine exporting its
executions as they end) the writer committed whatever had come during its previous commit,
a request or two, and paid that fixed cost on the CPU the serving loop and the engine share.

So after a commit during which requests kept arriving, a small batch waits up to
`gap_seconds` for more before it commits (as PostgreSQL's `commit_delay` does when other
transactions are active). Waiting only helps when more will come: a client that waits for
its acknowledgement before it sends again (one exporter, or many, each with its request in
the last commit) sends nothing during a commit, so then the batch commits at once. So does a
batch of `enough_items` or more (an ordinary OTLP export: its commit's fixed cost is a small
share), and so does everything once a reader waits for it (`Writer.hurry`).

Requests already received and still being converted (collector/ingest.py) are sure to come,
within a conversion's few milliseconds. Exporters that keep several requests in flight (the
SDK's with several workers, a Collector's queue consumers) get their answers together and
send again together; when the writer then commits the first converted request alone, the
rest go in the next commit, and the two halves keep alternating: every commit holds half of
what is in flight and pays its fixed cost twice as often. On a lake that cost is ~60 ms of
wall time (DuckLake's catalog round trips: storage/ducklake/writer.py), so a node's exporters
waited on two commits where one would do. So the writer waits for the requests in conversion
too, whatever the batch holds, but only for a share of what the last commit took (waiting
longer than a commit costs more than it saves) and at most `conversion_wait_max_seconds`.
"""

from __future__ import annotations

from dataclasses import dataclass

COMMIT_GAP_SECONDS = 0.02
ENOUGH_ITEMS = 512  # spans + records: an exporter's default batch
# A lake commit's fixed cost is some 60 ms of wall time and 17 ms of the writer's CPU (DuckLake's
# catalog round trips: ~3 ms a statement, and the commit's own), against ~10 ms in a file: a
# commit of one 512-span export there is mostly fixed cost. So a lake's writer waits the commit
# gap for more until its batch holds this many (storage/ducklake/store.py).
LAKE_ENOUGH_ITEMS = 4096
CONVERSION_WAIT_SHARE = 0.5  # of the last commit's duration
CONVERSION_WAIT_MAX_SECONDS = 0.05


@dataclass(frozen=True)
class CommitPacing:
    gap_seconds: float = COMMIT_GAP_SECONDS
    enough_items: int = ENOUGH_ITEMS
    conversion_wait_share: float = CONVERSION_WAIT_SHARE
    conversion_wait_max_seconds: float = CONVERSION_WAIT_MAX_SECONDS

    def deadline(self, items: int, last_commit_end: float | None, arrived: bool, now: float) -> float | None:
        """Until when (the clock of `now`) to gather more before committing `items`; None:
        commit now. `last_commit_end`: when the last commit ended (None: no commit yet);
        `arrived`: whether requests arrived while it ran."""
        if items >= self.enough_items or last_commit_end is None or not arrived:
            return None
        until = last_commit_end + self.gap_seconds
        return until if until > now else None

    def conversion_deadline(self, gathering_since: float, last_commit_seconds: float | None) -> float | None:
        """Until when (the clock of `gathering_since`) to wait for requests in conversion, for
        a batch gathered since `gathering_since`; None: not at all (no commit measured yet)."""
        if last_commit_seconds is None:
            return None
        wait = min(self.conversion_wait_max_seconds, self.conversion_wait_share * last_commit_seconds)
        return gathering_since + wait if wait > 0 else None
