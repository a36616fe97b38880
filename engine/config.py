"""Engine configuration: what the hosting process allows workflows to do.

Defaults are safe for a server that runs definitions submitted over its API:
`shell` is off, `http` is off until hosts are allowed, `python` may only import
allow-listed modules (registered functions are always callable), and `sql` may
only touch files under allow-listed directories. The CLI (`flowscope run`), which
runs the user's own files, loosens these.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from engine.expressions import ExpressionLimits
from engine.telemetry import TelemetryConfig

EXAMPLES_DIR = Path(__file__).resolve().parent.parent / "examples"


def _default_sql_dirs() -> tuple[str, ...]:
    return (tempfile.gettempdir(), str(EXAMPLES_DIR))


@dataclass(frozen=True)
class EngineConfig:
    telemetry: TelemetryConfig = field(default_factory=TelemetryConfig)
    enable_shell: bool = False
    # Hostnames the http action may call ('*.example.com' wildcards, optional ':port'); empty = disabled.
    http_allowed_hosts: tuple[str, ...] = ()
    # Module prefixes the python action (and 'module:function' action types) may import; '*' = any.
    python_modules: tuple[str, ...] = ("engine.examples",)
    # Directories the sql action's database and the files its SQL reads/writes must be under;
    # None = unrestricted (DuckDB external access stays on).
    sql_allowed_dirs: tuple[str, ...] | None = field(default_factory=_default_sql_dirs)
    # Executions running at once; more are queued (status pending) until a slot frees.
    max_concurrent_executions: int = 1000
    # A step output larger than this (as JSON) fails the step: outputs feed expressions.
    max_output_bytes: int = 1 << 20
    expression_limits: ExpressionLimits = field(default_factory=ExpressionLimits)
    # SIGTERM -> SIGKILL grace for shell steps that time out or are cancelled.
    shell_kill_grace_seconds: float = 2.0
    # Largest response body the http action reads.
    http_max_response_bytes: int = 1 << 20

    def python_module_allowed(self, module: str) -> bool:
        return any(p == "*" or module == p or module.startswith(p + ".") for p in self.python_modules)
