"""Which recognizers the collector runs: the built-in emitters, then an operator's mapping file."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from flowscope import conventions as c
from flowscope.emitters import Recognizer
from flowscope.emitters.airflow import Airflow
from flowscope.emitters.github_actions import GitHubActions
from flowscope.emitters.gitlab import GitLab
from flowscope.emitters.jenkins import Jenkins
from flowscope.emitters.prefect import Prefect

# The built-in emitters, in the order they are asked (the first that claims a span wins).
BUILTIN: tuple[Recognizer, ...] = (
    GitHubActions(),  # claims only resources whose vcs provider is "github"
    GitLab(),  # only resources whose vcs provider is "gitlab"
    Jenkins(),  # spans with the Jenkins plugin's own keys, or its scope's cicd.* root spans
    Prefect(),  # spans with prefect.run.type (Prefect 3's run telemetry)
    Airflow(),  # Airflow 3.1-3.3's DAG run and task spans (airflow.dag_id, airflow.dag_run.dag_id, ...)
)


# What the collector looks for in every request anyway (workflow spans of our conventions).
_BASE_MARKERS = tuple(prefix.encode() for prefix in c.WORKFLOW_ATTRIBUTE_PREFIXES)


@dataclass(frozen=True, slots=True)
class Recognition:
    """The recognizers of one server, with the byte markers that make a span worth asking them.

    `markers` are looked for in each span's (and its resource's) bytes; `request_markers` in a
    whole request first, so that requests of plain spans are passed over after a few scans:
    each scan of a 290 KB request of 512 spans costs ~0.1 ms, a fifth of its conversion with
    all markers. A marker holding one the collector looks for anyway (`cicd.pipeline.`) needs
    no scan of its own; a recognizer may name fewer, shorter ones (`request_markers`) that
    every request holding its spans has."""

    recognizers: tuple[Recognizer, ...]
    markers: tuple[bytes, ...]
    request_markers: tuple[bytes, ...]

    @classmethod
    def of(cls, recognizers: Sequence[Recognizer]) -> Recognition:
        markers = tuple(dict.fromkeys(marker for r in recognizers for marker in r.markers))
        per_request: list[bytes] = []
        for r in recognizers:
            own = getattr(r, "request_markers", None)  # optional: see the class docstring
            per_request += r.markers if own is None else own
        needed = (m for m in per_request if not any(base in m for base in _BASE_MARKERS))
        return cls(tuple(recognizers), markers, tuple(dict.fromkeys(needed)))


def builtin() -> Recognition:
    """The built-in emitters alone (no mapping file)."""
    return Recognition.of(BUILTIN)
