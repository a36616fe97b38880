"""Helpers for the Grafana contract tests: a real Prometheus, dashboard walking, variable substitution."""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]
GRAFANA = REPO / "grafana"
DASHBOARDS = sorted((GRAFANA / "dashboards").glob("*.json"))
PROMETHEUS_UID = "flowscope-prometheus"
JAEGER_UID = "flowscope-jaeger"
INFINITY_UID = "flowscope-infinity"


def require_binary(name: str, package: str) -> str:
    """The binary's path; a clear failure (never a skip) when the Debian package is missing."""
    path = shutil.which(name)
    if path is None:
        pytest.fail(
            f"`{name}` is not installed: these tests need Debian's `{package}` package "
            f"(`make system-deps` or `apt-get install {package}`)",
            pytrace=False,
        )
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Prometheus:
    """A real Prometheus on a loopback port scraping one target every second."""

    def __init__(self, target: str, workdir: Path) -> None:
        binary = require_binary("prometheus", "prometheus")
        config = workdir / "prometheus.yml"
        config.write_text(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
            "scrape_configs:\n  - job_name: flowscope\n    metrics_path: /metrics\n"
            f"    static_configs:\n      - targets: ['{target}']\n"
        )
        self.log = workdir / "prometheus.log"
        for _attempt in range(3):  # the free port may be taken between probe and bind
            port = free_port()
            self.url = f"http://127.0.0.1:{port}"
            with self.log.open("w") as log:
                self.process = subprocess.Popen(
                    [
                        binary, f"--config.file={config}", f"--storage.tsdb.path={workdir / 'data'}",
                        f"--web.listen-address=127.0.0.1:{port}", "--storage.tsdb.retention.time=1h",
                        "--log.level=warn",
                    ],
                    stdout=log, stderr=subprocess.STDOUT,
                )  # fmt: skip
            if self._wait_ready(30):
                return
            self.stop()
        raise RuntimeError("prometheus did not start:\n" + self.log.read_text())

    def _wait_ready(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            try:
                if httpx.get(f"{self.url}/-/ready", timeout=2).status_code == 200:
                    return True
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        return False

    def query(self, expr: str, at: float | None = None) -> list[dict[str, Any]]:
        """An instant query, evaluated now or at Unix time `at`."""
        params: dict[str, Any] = {"query": expr} if at is None else {"query": expr, "time": at}
        response = httpx.get(f"{self.url}/api/v1/query", params=params, timeout=30)
        body = response.json()
        assert response.status_code == 200 and body["status"] == "success", f"{expr}\n-> {body}"
        return body["data"]["result"]  # type: ignore[no-any-return]

    def label_values(self, label: str, match: str) -> list[str]:
        response = httpx.get(f"{self.url}/api/v1/label/{label}/values", params={"match[]": match}, timeout=30)
        assert response.status_code == 200, response.text
        return response.json()["data"]  # type: ignore[no-any-return]

    def wait_for(self, expr: str, predicate: Any, timeout: float = 30) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        result: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            result = self.query(expr)
            if predicate(result):
                return result
            time.sleep(0.25)
        raise AssertionError(f"timed out waiting for {expr}: last result {result}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


# --- dashboards ---------------------------------------------------------------


def load_dashboards() -> dict[str, dict[str, Any]]:
    return {path.name: json.loads(path.read_text()) for path in DASHBOARDS}


def panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])  # collapsed rows keep their panels inside


@dataclass
class Target:
    dashboard: str
    where: str  # panel title or "variable <name>"
    datasource_uid: str
    query: dict[str, Any]


def targets(dashboards: dict[str, dict[str, Any]]) -> Iterator[Target]:
    """Every query of every dashboard: panel targets and query variables."""
    for name, dashboard in dashboards.items():
        for panel in panels(dashboard):
            for target in panel.get("targets", []):
                uid = (target.get("datasource") or panel.get("datasource") or {}).get("uid", "")
                yield Target(name, panel.get("title", "?"), uid, target)
        for variable in dashboard.get("templating", {}).get("list", []):
            if variable.get("type") != "query":
                continue
            query = variable["query"]
            query = query.get("infinityQuery", query) if isinstance(query, dict) else {"query": query}
            yield Target(
                name,
                f"variable {variable['name']}",
                variable["datasource"]["uid"],
                {**query, "_variable": variable},
            )


_VAR = re.compile(r"\$\{(\w+)(?::(\w+))?\}|\$(\w+)")


def substitute(text: str, values: dict[str, str]) -> str:
    """Grafana's variable syntaxes ($v, ${v}, ${v:fmt}); unknown variables are an error."""

    def repl(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(3)
        if name not in values:
            raise AssertionError(f"dashboard uses variable ${name} that the test does not know: {text}")
        return values[name]

    return _VAR.sub(repl, text)


def grafana_regex(pattern: str) -> re.Pattern[str]:
    """A Grafana variable regex (/.../ with JS named groups) as a Python pattern."""
    body = pattern.strip()
    if body.startswith("/") and body.rfind("/") > 0:
        body = body[1 : body.rfind("/")]
    return re.compile(body.replace("(?<", "(?P<"))


def query_result_lines(result: list[dict[str, Any]]) -> list[str]:
    """query_result() options as Grafana renders them: `name{k="v", ...} value timestamp`."""
    lines = []
    for series in result:
        metric = dict(series["metric"])
        name = metric.pop("__name__", "")
        labels = ", ".join(f'{k}="{v}"' for k, v in metric.items())
        ts, value = series["value"]
        lines.append(f"{name}{{{labels}}} {value} {int(float(ts) * 1000)}")
    return lines


def select(document: Any, selector: str) -> Any:
    """Follow a dotted Infinity selector ("" = the document)."""
    node = document
    for part in [p for p in selector.split(".") if p]:
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node
