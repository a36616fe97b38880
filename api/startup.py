"""Work `flowscope serve` does once its listeners are up (engine wiring, recovery, demo)."""

from __future__ import annotations

from api.context import AppContext
from flowscope.server_hooks import StartupHook


def startup_hooks() -> list[StartupHook]:
    return []


__all__ = ["AppContext", "startup_hooks"]
