"""Start the real `flowscope serve` as a subprocess on ephemeral ports, as users do."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]

_READY = re.compile(
    r"flowscope ready api=(?P<api>\S+) otlp_http=(?P<otlp_http>\S+) "
    r"otlp_grpc=(?P<otlp_grpc>\S+) db=(?P<db>\S+)"
)


@dataclass
class RunningServer:
    process: subprocess.Popen[str]
    api: str
    otlp_http: str
    otlp_grpc: str
    db: Path
    output: list[str] = field(default_factory=list)

    def get(self, path: str, **kwargs: object) -> httpx.Response:
        return httpx.get(self.api + path, timeout=30, **kwargs)  # type: ignore[arg-type]

    def post(self, path: str, **kwargs: object) -> httpx.Response:
        return httpx.post(self.api + path, timeout=30, **kwargs)  # type: ignore[arg-type]

    def terminate(self, timeout: float = 60) -> int:
        """SIGTERM and wait: the server drains and commits before exiting."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)

    def kill(self) -> None:
        """SIGKILL: no chance to flush anything."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(30)

    @property
    def log(self) -> str:
        return "".join(self.output)


def start_server(
    db: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 60,
    preexec_fn: Callable[[], None] | None = None,
    program: Sequence[str] = (sys.executable, "-m", "flowscope"), cwd: Path = REPO,
) -> RunningServer:  # fmt: skip
    """Run `flowscope serve` with ports 0 on `db` and wait for its ready line.

    `preexec_fn` runs in the child before exec (to set resource limits, say); `program` is
    what runs `flowscope` (another install's console script, say), from `cwd`."""
    cmd = [
        *program, "serve", "--host", "127.0.0.1", "--api-port", "0",
        "--otlp-http-port", "0", "--otlp-grpc-port", "0", "--db", str(db), *args,
    ]  # fmt: skip
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    process = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=full_env,
        cwd=cwd, preexec_fn=preexec_fn,
    )  # fmt: skip
    output: list[str] = []
    ready: dict[str, str] = {}
    got_ready = threading.Event()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            output.append(line)
            m = _READY.search(line)
            if m and not got_ready.is_set():
                ready.update(m.groupdict())
                got_ready.set()
        got_ready.set()

    threading.Thread(target=pump, daemon=True).start()
    deadline = time.monotonic() + timeout
    while not got_ready.wait(0.05):
        if time.monotonic() > deadline:
            process.kill()
            raise RuntimeError("server did not become ready:\n" + "".join(output))
    if not ready:
        process.wait(5)
        raise RuntimeError(f"server exited ({process.returncode}) before ready:\n" + "".join(output))
    return RunningServer(
        process, ready["api"], ready["otlp_http"], ready["otlp_grpc"], Path(ready["db"]), output
    )
