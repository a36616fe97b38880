"""Which recognizers the collector runs: the built-in emitters, then an operator's mapping file."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

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


@dataclass(frozen=True, slots=True)
class Recognition:
    """The recognizers of one server, with the byte markers that make a span worth asking them."""

    recognizers: tuple[Recognizer, ...]
    markers: tuple[bytes, ...]

    @classmethod
    def of(cls, recognizers: Sequence[Recognizer]) -> Recognition:
        markers = tuple(dict.fromkeys(marker for r in recognizers for marker in r.markers))
        return cls(tuple(recognizers), markers)


def builtin() -> Recognition:
    """The built-in emitters alone (no mapping file)."""
    return Recognition.of(BUILTIN)
