"""What the API needs from the process that hosts it (built by `flowscope serve`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flowscope.storage.duckdb.store import Store
from prometheus_client import CollectorRegistry


@dataclass
class AppContext:
    store: Store
    registry: CollectorRegistry
    settings: Any  # flowscope.settings.Settings (the api does not import the composition root)
    engine: Any = None  # engine.engine.Engine once the engine is wired in
    otlp_http_url: str = ""
    otlp_grpc_address: str = ""
    extras: dict[str, Any] = field(default_factory=dict)
