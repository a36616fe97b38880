"""The hook type `flowscope serve` awaits after its listeners are up."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

StartupHook = Callable[[Any], Awaitable[None]]
