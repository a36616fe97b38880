"""What the API needs from the process that hosts it, built by the composition root
(flowscope/compose.py). The api never imports the layers above it: it declares here what
it reads, and the root fills it in."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from flowscope.api.visibility import VisibilityBarrier
from flowscope.storage.interfaces import Store
from prometheus_client import CollectorRegistry
from pydantic import SecretStr

if TYPE_CHECKING:  # types only: these modules import this one, or are heavy
    from flowscope.api.access_cache import AccessCache
    from flowscope.api.cluster import Cluster
    from flowscope.api.intake import Intake
    from flowscope.api.throttle import AuthThrottle
    from flowscope.api.visibility import CommitWatcher
    from flowscope.api.ws.hub import Hub
    from flowscope.engine.config import EngineConfig
    from flowscope.engine.host import EngineHost


@dataclass(frozen=True, slots=True)
class ApiSettings:
    """The options the API reads, copied from flowscope/settings.py (same names, documented there)."""

    auth_required: bool
    cors_origins: tuple[str, ...]
    max_bulk_executions: int
    metrics_auth: Literal["none", "token"]
    metrics_token: SecretStr | None
    metrics_series_limit: int
    metrics_series_expiry_seconds: float
    jaeger_max_trace_spans: int


@dataclass(eq=False)
class AppContext:
    """What the API's handlers share, one per server."""

    store: Store
    registry: CollectorRegistry
    settings: ApiSettings
    engine_config: EngineConfig
    """The engine's config (which step actions are enabled): definitions are validated under it,
    also before the engine runs."""
    throttle: AuthThrottle
    """The one failed-authentication throttle: REST, WebSockets, Jaeger, /metrics and ingest
    share each client's bucket."""
    commit_watcher: CommitWatcher
    hub: Hub
    """The live feeds' hub (api/ws)."""
    access: AccessCache
    """REST requests' recent access decisions (api/access_cache.py)."""
    engine: EngineHost | None = None
    """Set once the engine runs, after the listeners are up; executes answer 503 until then."""
    intake: Intake | None = None
    """Records executions started through the API; set with `engine`."""
    cluster: Cluster | None = None
    """This node among the engine nodes of a shared store (a lake); set with `engine`, None on
    the DuckDB file."""
    barrier: VisibilityBarrier = field(default_factory=VisibilityBarrier)
    """Reads that can show executions wait here for the commits of the triggers before them
    (read-your-writes after a 202 that did not wait for its commit: api/intake.py)."""
    receivers_ready: bool = False
    """The OTLP receivers take data (/readyz); false again while shutting down."""
