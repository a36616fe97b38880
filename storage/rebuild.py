"""Rebuilding a store's derived rows from its stored telemetry (`Store.rebuild_rows`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flowscope.storage.batches import Prepared, Signal

# How ingest derives rows from one export request: (signal, request, workspace id, the request's
# encoding) -> rows. The collector's `prepare`; passed in, so that storage does not depend on it.
Derive = Callable[[Signal, Any, str, bytes], Prepared]


@dataclass(frozen=True, slots=True)
class RebuildCounts:
    spans_changed: int  # spans whose derived columns (role, ids, status, error...) changed
    records_changed: int  # log records whose derived columns changed
    executions: int  # execution rows after the rebuild
