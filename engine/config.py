"""Engine configuration: what the hosting process allows workflows to do.

Defaults are safe for a server that runs definitions submitted over its API:
`shell` is off, `http` is off until hosts are allowed, `python` may only call
functions of allow-listed modules (registered functions are always callable), and
`sql` and the example pipeline helpers may only touch files in `sandbox_dir` (none
at all without one). The CLI (`flowscope run`), which runs the user's own files,
loosens these.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from flowscope.engine.expressions import ExpressionLimits
from flowscope.engine.telemetry import TelemetryConfig


@dataclass(frozen=True)
class EngineConfig:
    telemetry: TelemetryConfig = field(default_factory=TelemetryConfig)
    enable_shell: bool = False
    # Hostnames the http action may call ('*.example.com' wildcards, optional ':port'); empty = disabled.
    http_allowed_hosts: tuple[str, ...] = ()
    # CIDRs the http action may connect to although not public (loopback, private, link-local,
    # ...: refused otherwise, whatever name resolves to them); see engine.actions.http_addresses.
    http_allowed_networks: tuple[str, ...] = ()
    # Module prefixes the python action (and 'module:function' action types) may import; '*' = any.
    python_modules: tuple[str, ...] = ("flowscope.engine.examples",)
    # The only directory the sql action's databases and the files its SQL reads/writes, and
    # the example pipeline helpers, may use: private to the server (engine.sandbox_dir).
    # None = no files at all (sql on ':memory:' only), unless unrestricted_files.
    sandbox_dir: Path | None = None
    # Any path (DuckDB external access stays on): for the CLI, which runs the user's own files.
    unrestricted_files: bool = False
    # Executions running at once over all workspaces; more wait (status pending) until a slot
    # frees, then start round-robin across workspaces (engine.admission).
    max_concurrent_executions: int = 1000
    # Executions of one workspace running at once; more of it wait.
    max_running_per_workspace: int = 100
    # Executions of one workspace waiting to start; one more is refused (QuotaExceeded, HTTP 429).
    max_pending_per_workspace: int = 1000
    # Most steps per workflow (at most engine.model.MAX_STEPS): big ones cost a plan and a
    # span per step per run; a server may want fewer.
    max_steps: int = 10_000
    # Finished executions `Engine.get` still returns (fewer when they are big, see engine.py);
    # the server keeps none, since its collector is the history.
    finished_executions_kept: int = 256
    # A step output larger than this (as JSON) fails the step: outputs feed expressions.
    max_output_bytes: int = 1 << 20
    expression_limits: ExpressionLimits = field(default_factory=ExpressionLimits)
    # SIGTERM -> SIGKILL grace for shell steps that time out or are cancelled.
    shell_kill_grace_seconds: float = 2.0
    # Largest response body the http action reads.
    http_max_response_bytes: int = 1 << 20

    def python_module_allowed(self, module: str) -> bool:
        return any(p == "*" or module == p or module.startswith(p + ".") for p in self.python_modules)
