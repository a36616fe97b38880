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
"""

from __future__ import annotations

from dataclasses import dataclass

COMMIT_GAP_SECONDS = 0.02
ENOUGH_ITEMS = 512  # spans + records: an exporter's default batch


@dataclass(frozen=True)
class CommitPacing:
    gap_seconds: float = COMMIT_GAP_SECONDS
    enough_items: int = ENOUGH_ITEMS

    def deadline(self, items: int, last_commit_end: float | None, arrived: bool, now: float) -> float | None:
        """Until when (the clock of `now`) to gather more before committing `items`; None:
        commit now. `last_commit_end`: when the last commit ended (None: no commit yet);
        `arrived`: whether requests arrived while it ran."""
        if items >= self.enough_items or last_commit_end is None or not arrived:
            return None
        until = last_commit_end + self.gap_seconds
        return until if until > now else None
