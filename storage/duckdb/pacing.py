"""When the writer commits what it has gathered: at once, or after gathering a little longer.

A commit has a fixed cost whatever it holds: on this 2-core machine ~10 ms of CPU in six to
eight DuckDB statements (BEGIN, the inserts, the execution summaries, COMMIT), against a few
µs per span. Under a steady trickle of small requests (an engine exporting its executions
every ~20 ms, triggers, a few OTLP clients) the writer used to commit each request as it came,
so the fixed cost was paid once per request, on the CPU the serving loop and the engine share.
After a commit, a small batch therefore waits up to `gap_seconds` for more requests (like
PostgreSQL's `commit_delay`); an idle writer, or a batch of `enough_items` or more, commits at
once. What a client waits for its acknowledgement grows by at most the gap, and only while
requests keep coming.
"""

from __future__ import annotations

from dataclasses import dataclass

COMMIT_GAP_SECONDS = 0.02
ENOUGH_ITEMS = 2_048  # a batch this large: the fixed cost is a small share of its commit


@dataclass(frozen=True)
class CommitPacing:
    gap_seconds: float = COMMIT_GAP_SECONDS
    enough_items: int = ENOUGH_ITEMS

    def deadline(self, items: int, last_commit_end: float | None, now: float) -> float | None:
        """Until when (the clock of `now`) to gather more before committing `items`; None:
        commit now (idle since the last commit for the gap or longer, or enough items)."""
        if items >= self.enough_items or last_commit_end is None:
            return None
        until = last_commit_end + self.gap_seconds
        return until if until > now else None
