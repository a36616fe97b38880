"""Tunables of the live feeds.

Environment variables rather than `flowscope.settings.Settings` fields so the feature
stays self-contained; each has a safe default and is read once, when the hub starts.
"""

from __future__ import annotations

import os
from dataclasses import dataclass


def _float(name: str, default: float) -> float:
    value = os.environ.get(name)
    return float(value) if value else default


def _int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


@dataclass(frozen=True)
class LiveConfig:
    # How long an event waits for a missing predecessor (a lifecycle record that has
    # not arrived) before the predecessor is synthesized from the span. Only events
    # with a missing predecessor wait; everything else is released at once.
    reorder_window_seconds: float = 1.0
    # Messages queued per connection before it counts as too slow and is closed (1013).
    queue_messages: int = 1024
    # How long a server-initiated close may wait for a congested client.
    close_timeout_seconds: float = 5.0
    # `?since=` replay bounds: most recent executions considered, events sent.
    replay_max_executions: int = 1000
    replay_max_events: int = 10_000
    # Executions tracked for ordering; the least recently active are forgotten first.
    max_executions: int = 100_000
    # Finished executions remembered so late or repeated data does not reopen them.
    max_finished: int = 200_000
    # An execution with no new data for this long is forgotten (its process died).
    idle_seconds: float = 3600.0

    @classmethod
    def from_env(cls) -> LiveConfig:
        d = cls()
        return cls(
            reorder_window_seconds=_float("FLOWSCOPE_WS_REORDER_WINDOW", d.reorder_window_seconds),
            queue_messages=_int("FLOWSCOPE_WS_QUEUE_MESSAGES", d.queue_messages),
            close_timeout_seconds=_float("FLOWSCOPE_WS_CLOSE_TIMEOUT", d.close_timeout_seconds),
            replay_max_executions=_int("FLOWSCOPE_WS_REPLAY_MAX_EXECUTIONS", d.replay_max_executions),
            replay_max_events=_int("FLOWSCOPE_WS_REPLAY_MAX_EVENTS", d.replay_max_events),
        )
