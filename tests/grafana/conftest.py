"""One real `flowscope serve`, real traffic and a real Prometheus scraping it, for the session.

Traffic: the example workflows created and executed through the REST API (the real
engine), workflow-convention traces and a plain program sent with the OTel SDK, and
collector edge cases (rejects, duplicates, a burst that meets backpressure).

Traffic comes in two rounds with scrapes between them, so rate() and increase() in
the dashboards' PromQL see counters move, as they would in production.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.grafana.support import Prometheus, require_binary
from tests.grafana.traffic import (
    Emitted,
    create_examples,
    emit_collector_edge_cases,
    emit_workflows,
    run_examples,
)
from tests.support.server import RunningServer, start_server

PLAIN_SDK = Path(__file__).parent / "programs" / "plain_sdk.py"
# A small queue and a commit delay make a concurrent burst overflow the queue (a real
# 503 for the backpressure panels) without slowing the rest of the traffic much.
SERVER_ENV = {"FLOWSCOPE_QUEUE_ITEMS": "4000", "FLOWSCOPE_COMMIT_DELAY_SECONDS": "0.05"}


@dataclass
class Stack:
    server: RunningServer
    prometheus: Prometheus
    rounds: list[Emitted]
    plain_trace_id: str
    refused: int
    examples: dict[str, str]  # workflow id -> name, created through the REST API
    example_runs: list[str]  # executions of the examples by the real engine
    as_of: float  # Unix time at which Prometheus had scraped all of the traffic

    @property
    def failed_execution(self) -> str:
        return self.rounds[-1].failed[0]

    @property
    def executions(self) -> list[str]:
        return [e for r in self.rounds for e in r.all_executions()]


def _run_plain_sdk(otlp_http: str) -> str:
    done = subprocess.run(
        [sys.executable, str(PLAIN_SDK), otlp_http], capture_output=True, text=True, timeout=60, check=True
    )
    return done.stdout.strip().splitlines()[-1]


def _wait_for_executions(prometheus: Prometheus, rounds: list[Emitted], example_runs: int) -> float:
    """Wait until Prometheus has scraped every execution of `rounds` and the examples' runs;
    returns the time it had."""
    expected = sum(len(r.all_executions()) for r in rounds) + example_runs
    prometheus.wait_for(
        "sum(flowscope_workflow_executions_total)", lambda r: r and float(r[0]["value"][1]) == expected
    )
    return time.time()


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    require_binary("prometheus", "prometheus")
    workdir = tmp_path_factory.mktemp("grafana-stack")
    server = start_server(workdir / "flowscope.duckdb", env=SERVER_ENV)
    prometheus = None
    try:
        prometheus = Prometheus(server.api.removeprefix("http://"), workdir)
        prometheus.wait_for('up{job="flowscope"}', lambda r: r and r[0]["value"][1] == "1")
        examples = create_examples(server.api)
        example_runs = run_examples(server.api, list(examples))
        rounds = [emit_workflows(server.otlp_http)]
        refused = emit_collector_edge_cases(server.otlp_http, seed=1)["refused"]
        plain = _run_plain_sdk(server.otlp_http)
        # Round one scraped: the baseline for rate() and increase().
        _wait_for_executions(prometheus, [rounds[0]], len(example_runs))
        rounds.append(emit_workflows(server.otlp_http))
        example_runs += run_examples(server.api, list(examples))
        refused += emit_collector_edge_cases(server.otlp_http, seed=2)["refused"]
        _run_plain_sdk(server.otlp_http)
        # Every finished execution sent, once Prometheus has scraped it. (Counting from
        # /metrics instead would race: the bus updates metrics just after the commit is
        # acknowledged.) Panels are evaluated at that moment: their rate() windows then hold
        # both rounds however long the tests before them took.
        _wait_for_executions(prometheus, rounds, len(example_runs))
        # And both plain SDK runs: their spans are folded by another subscriber of the change
        # feed, which may lag the executions' (seen once: a scrape with the second run's spans
        # still out, read by the connector test).
        prometheus.wait_for(
            'traces_span_metrics_calls_total{service_name="shop-payments"}',
            lambda r: bool(r) and all(float(s["value"][1]) == 2 for s in r),
        )
        as_of = time.time()
        yield Stack(server, prometheus, rounds, plain, refused, examples, example_runs, as_of)
    finally:
        if prometheus is not None:
            prometheus.stop()
        server.terminate()
