"""The CI/CD recognizers' rules over the fixtures built from each emitter's source
(tests/emitters/fixtures/*.json; their "_source" names the files and versions).

Each span is asked of the built-in recognizers in their registry order, as the collector asks
them: what the first that claims it returns is what Flowscope stores."""

from __future__ import annotations

from typing import Any

import pytest

from flowscope import conventions as c
from flowscope.emitters import ForeignSpan
from flowscope.emitters.cicd import workflow_key
from flowscope.emitters.registry import BUILTIN
from tests.emitters.cicd_fixtures import EMITTERS, Sent, sent

RUN = "14460881260"
GITHUB_WORKFLOW = "acme:shop-api:CI"
GITLAB_WORKFLOW = "acme:platform:shop-api"
JENKINS_WORKFLOW = "team:shop-api:main"


def claim(span: ForeignSpan) -> tuple[str, dict[str, Any]] | None:
    for recognizer in BUILTIN:
        derived = recognizer.recognize(span)
        if derived:
            return recognizer.name, {k: v for k, v in derived.items() if v is not None}
    return None


def by_name(emitter: str) -> dict[tuple[str, str], tuple[Sent, tuple[str, dict[str, Any]] | None]]:
    """(trace id, span name) -> (the span, who claimed it and what it derived)."""
    return {(s.view.trace_id, s.view.name): (s, claim(s.view)) for s in sent(emitter)}


def derived(emitter: str, name: str, nth_trace: int = 0) -> dict[str, Any] | None:
    spans = by_name(emitter)
    traces = list(dict.fromkeys(trace for trace, _ in spans))
    found = spans[(traces[nth_trace], name)][1]
    return None if found is None else found[1]


# --- GitHub Actions ------------------------------------------------------------------------------


def test_github_run_attempts_are_executions_of_one_workflow() -> None:
    first, second = derived("github_actions", "CI", 0), derived("github_actions", "CI", 1)
    assert first == {
        c.WORKFLOW_ID: GITHUB_WORKFLOW, c.WORKFLOW_NAME: "CI", c.WORKFLOW_EXECUTION_ID: RUN,
        c.WORKFLOW_STATUS: "failed",
    }  # fmt: skip
    assert second is not None and second[c.WORKFLOW_ID] == GITHUB_WORKFLOW
    assert second[c.WORKFLOW_STATUS] == "completed"


def test_github_jobs_are_steps_queued_when_created() -> None:
    spans = by_name("github_actions")
    first_trace = next(iter(spans))[0]
    jobs = {
        name: (s.view, found)
        for (trace, name), (s, found) in spans.items()
        if trace == first_trace and name in ("build", "test", "lint", "deploy")
    }
    statuses = {name: found[1][c.STEP_STATUS] for name, (_, found) in jobs.items() if found}
    assert statuses == {"build": "completed", "test": "failed", "lint": "completed", "deploy": "skipped"}
    for name, (view, found) in jobs.items():
        assert found is not None and found[0] == "github-actions"
        assert found[1][c.STEP_ID] == name
        assert found[1][c.STEP_QUEUED_TIME] == view.start_ns  # created_at
        assert c.WORKFLOW_ID not in found[1]  # the job's resource names no workflow
    queue = spans[(first_trace, "queue-lint")][0].view
    assert queue.end_ns - queue.start_ns == 95 * 10**9  # the wait the queued time starts


def test_github_queue_spans_are_plain_and_job_steps_are_qualified_by_their_job() -> None:
    assert derived("github_actions", "queue-lint") is None
    assert derived("github_actions", "Run tests") == {
        c.STEP_ID: "test > Run tests", c.STEP_NAME: "test > Run tests", c.STEP_STATUS: "failed",
    }  # fmt: skip
    # createStepSpan records a skipped step as "failure" with an UNSET status
    assert derived("github_actions", "Upload coverage") == {
        c.STEP_ID: "test > Upload coverage", c.STEP_NAME: "test > Upload coverage", c.STEP_STATUS: "skipped",
    }  # fmt: skip
    assert derived("github_actions", "Set up job") != derived("github_actions", "Set up job", 1)


def test_github_markers_are_in_the_resource_for_runs_and_jobs() -> None:
    """The receiver gives a run's and a job's spans no attributes (MODEL puts them on the
    resource): their markers occur only in the resource's bytes."""
    markers = BUILTIN[0].markers
    for s in sent("github_actions"):
        found = claim(s.view)
        if found is None:
            continue
        if c.CICD_TASK_NAME in s.view.attributes:
            assert any(marker in s.span_bytes for marker in markers)
        else:
            assert not any(marker in s.span_bytes for marker in markers)
            assert any(marker in s.resource_bytes for marker in markers)


def github_span(resource: dict[str, Any], parent: str = "") -> ForeignSpan:
    return ForeignSpan(
        name="x", kind=1, trace_id="ab" * 16, span_id="cd" * 8, parent_span_id=parent, start_ns=5,
        end_ns=9, status_code=0, status_message="timed_out", attributes={}, resource=resource,
    )  # fmt: skip


def test_github_conclusions_outside_the_four_named_and_older_receivers() -> None:
    """MODEL's default case files any other conclusion under cicd.pipeline.run.status, for a
    job too; receivers before semconv v1.37 said vcs.vendor.name and vcs.repository.owner."""
    job = github_span(
        {"vcs.provider.name": "github", "cicd.pipeline.name": "e2e", "cicd.pipeline.task.run.id": 7,
         "cicd.pipeline.run.status": "timed_out"},
        parent="ef" * 8,
    )  # fmt: skip
    assert claim(job) == ("github-actions", {
        c.STEP_ID: "e2e", c.STEP_NAME: "e2e", c.STEP_QUEUED_TIME: 5, c.STEP_STATUS: "failed",
        c.STEP_ERROR: "timed out",
    })  # fmt: skip
    run = github_span({
        "vcs.vendor.name": "github", "vcs.repository.owner": "acme", "vcs.repository.name": "shop-api",
        "cicd.pipeline.name": "CI", "cicd.pipeline.run.id": 1, "cicd.pipeline.run.status": "timed_out",
    })  # fmt: skip
    found = claim(run)
    assert found is not None
    assert (found[1][c.WORKFLOW_ID], found[1][c.WORKFLOW_STATUS]) == (GITHUB_WORKFLOW, "timeout")


# --- GitLab --------------------------------------------------------------------------------------


def test_gitlab_pipeline_is_the_execution_with_gitlab_statuses_mapped() -> None:
    assert derived("gitlab", "Add cart totals") == {
        c.WORKFLOW_ID: GITLAB_WORKFLOW, c.WORKFLOW_NAME: "acme/platform/shop-api",
        c.WORKFLOW_EXECUTION_ID: "1851", c.WORKFLOW_STATUS: "failed",
    }  # fmt: skip
    assert derived("gitlab", "Fix cart totals", 1)[c.WORKFLOW_STATUS] == "completed"  # type: ignore[index]


def test_gitlab_jobs_are_steps_stages_are_not() -> None:
    assert derived("gitlab", "test") is None  # a stage span: no attributes of its own
    unit = derived("gitlab", "test:unit")
    assert unit is not None
    assert unit[c.STEP_STATUS] == "failed" and unit[c.STEP_ERROR] == "script_failure"
    assert unit[c.WORKFLOW_ID] == GITLAB_WORKFLOW
    deploy = derived("gitlab", "deploy")
    assert deploy is not None and deploy[c.STEP_STATUS] == "cancelled" and c.STEP_ERROR not in deploy


def test_gitlab_queued_time_is_started_at_less_queued_duration() -> None:
    spans = by_name("gitlab")
    first_trace = next(iter(spans))[0]
    lint, found = spans[(first_trace, "test:lint")]
    assert found is not None
    assert found[1][c.STEP_QUEUED_TIME] == lint.view.start_ns - 42_700_000_000


# --- Jenkins -------------------------------------------------------------------------------------


def test_jenkins_build_is_the_execution_numbered_by_its_build_number() -> None:
    assert derived("jenkins", "BUILD team/shop-api/main") == {
        c.WORKFLOW_ID: JENKINS_WORKFLOW, c.WORKFLOW_NAME: "team » shop-api » main",
        c.WORKFLOW_EXECUTION_NUMBER: 42, c.WORKFLOW_EXECUTION_ID: "team/shop-api/main#42",
        c.WORKFLOW_STATUS: "failed",
    }  # fmt: skip


def test_jenkins_stages_are_steps_branches_phases_and_commands_are_not() -> None:
    statuses = {
        name: derived("jenkins", f"Stage: {name}")[c.STEP_STATUS]  # type: ignore[index]
        for name in ("Build", "Test", "unit", "integration", "Deploy", "Notify")
    }
    assert statuses == {
        "Build": "completed", "Test": "failed", "unit": "failed", "integration": "cancelled",
        "Deploy": "skipped", "Notify": "completed",
    }  # fmt: skip
    for name in ("Parallel branch: unit", "Shell Script", "Phase: Run", "Agent Allocation", "Agent"):
        assert derived("jenkins", name) is None, name


def test_jenkins_downstream_build_in_the_same_trace_is_a_step() -> None:
    assert derived("jenkins", "BUILD team/notifier") == {
        c.STEP_ID: "team/notifier", c.STEP_NAME: "team » notifier", c.STEP_STATUS: "completed",
    }  # fmt: skip


def test_jenkins_otel_semconv_mode_root_gets_a_stable_id_and_number() -> None:
    """SemConvStability OTEL: the root carries OpenTelemetry's names only."""
    span = ForeignSpan(
        name="BUILD team/app", kind=2, trace_id="ab" * 16, span_id="cd" * 8, parent_span_id="",
        start_ns=1, end_ns=2, status_code=1, status_message="SUCCESS",
        attributes={
            c.CICD_PIPELINE_NAME: "team/app", c.CICD_PIPELINE_RUN_ID: "12", c.CICD_PIPELINE_RESULT: "success",
        },
        scope_name="io.jenkins.opentelemetry",
    )  # fmt: skip
    assert claim(span) == ("jenkins", {
        c.WORKFLOW_ID: "team:app", c.WORKFLOW_NAME: "team/app", c.WORKFLOW_EXECUTION_NUMBER: 12,
    })  # fmt: skip


# --- All -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("emitter", EMITTERS)
def test_each_span_is_claimed_by_its_own_emitter_only(emitter: str) -> None:
    expected = {"github_actions": "github-actions", "gitlab": "gitlab", "jenkins": "jenkins"}[emitter]
    names = {found[0] for _, found in by_name(emitter).values() if found}
    assert names == {expected}


@pytest.mark.parametrize(
    "attributes, resource",
    [
        ({"http.request.method": "GET", "url.path": "/cart"}, {"service.name": "shop-api"}),
        # cicd.* keys alone (another CI tool): Flowscope reads them natively; no recognizer claims
        ({c.CICD_PIPELINE_NAME: "nightly", c.CICD_TASK_NAME: "build"}, {"service.name": "ci"}),
        ({}, {"vcs.provider.name": "gitlab", "service.name": "acme/shop"}),  # a GitLab stage-like span
    ],
)
def test_plain_spans_are_not_claimed(attributes: dict[str, Any], resource: dict[str, Any]) -> None:
    span = ForeignSpan(
        name="GET /cart", kind=2, trace_id="ab" * 16, span_id="cd" * 8, parent_span_id="ef" * 8,
        start_ns=1, end_ns=2, status_code=0, status_message="", attributes=attributes, resource=resource,
    )  # fmt: skip
    assert claim(span) is None


def test_workflow_keys_fit_one_url_path_segment() -> None:
    assert workflow_key("acme", "shop-api", "CI / deploy") == "acme:shop-api:CI : deploy"
    assert workflow_key("group/sub/project") == "group:sub:project"
    assert workflow_key(None, "", "/") is None
