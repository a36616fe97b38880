"""Tunables of the live feeds.

The composition root fills them from the one `Settings` class (flowscope/settings.py,
the `ws_*` fields and their FLOWSCOPE_WS_* variables); the defaults here are the same
(tests/test_settings.py checks), for hubs built without a server.
"""

from __future__ import annotations

from dataclasses import dataclass


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
