"""GitHub Actions, as the OpenTelemetry Collector contrib GitHub receiver traces it from the
`workflow_run` and `workflow_job` webhooks.

Sources (open-telemetry/opentelemetry-collector-contrib, receiver/githubreceiver), the newest
copies stored here:
- TRACE = trace_event_handling.go at 0829e775 (go-github v89, semconv v1.40.0; its
  receiver.githubreceiver.UseCheckRunID gate is registered FromVersion v0.151.0, so v0.151.0+)
- MODEL = model.go, the go-github v83 / semconv v1.38.0 version (getWorkflowRunAttrs,
  getWorkflowJobAttrs)
- EXPECTED = testdata/workflow-job-expected.yaml at 280902ae (a job trace as exported)

The shape (TRACE): one trace per run attempt (trace id = sha256(run id, run attempt)):
- `createRootSpan`: the run, kind SERVER, no parent, start run_started_at, end updated_at,
  status OK/ERROR for success/failure and message = the conclusion; a link to the previous
  attempt's trace when run_attempt > 1. It carries NO span attributes: the run's attributes
  are the resource's (MODEL getWorkflowRunAttrs).
- `createParentSpan`: a job, kind INTERNAL (SERVER before), parent = the run's span, start
  created_at (when it was queued), end completed_at; no span attributes either: the job's are
  the resource's (MODEL getWorkflowJobAttrs), where `cicd.pipeline.name` is the JOB's name.
- `createJobQueueSpan`: "queue-{job}", child of the job, created_at -> started_at, attribute
  `cicd.pipeline.run.queue.duration` (ns, double).
- `createStepSpan`: each step of the job, child of the job, `cicd.pipeline.task.name` = the
  step's name (made unique within the job) and `cicd.pipeline.run.task.status`.

Meaning: the run attempt is the execution; a job is a step (the unit GitHub queues for a runner,
re-runs and reports a conclusion for; TRACE: "A `job` maps to ... a `cicd.pipeline.task`");
the queue span is a plain child span (its wait is the job's queued time). A job's own steps
are commands run in order on the job's runner, never queued or re-run on their own: they are
not Flowscope steps. Flowscope's built-in reading makes every span with
`cicd.pipeline.task.name` a step, though, and a recognizer can add meaning, not take it away;
so that they do not collide across jobs ("Set up job" is in every job), their step ids are
qualified by the job ("build > Set up job").

Attempts: re-running a run (or its failed jobs) makes run_attempt n+1, a new trace, so a new
Flowscope execution of the same workflow whose root links to the previous attempt's trace
(TRACE createRootSpan). The job spans do not carry the attempt (MODEL getWorkflowJobAttrs has
no run_attempt), and Flowscope's contract has no execution attempt, so a re-run job is that
job's step in the later execution, not a second attempt of one step.
"""

from __future__ import annotations

import re
from typing import Any, Final

from flowscope import conventions as c
from flowscope import workflow_meaning as m
from flowscope.emitters import ForeignSpan
from flowscope.emitters.cicd import text_of, workflow_key

# MODEL: resource attribute keys.
RUN_ID: Final = "cicd.pipeline.run.id"
RUN_STATUS: Final = "cicd.pipeline.run.status"  # AttributeCICDPipelineRunStatus (conclusion)
RUN_URL: Final = "cicd.pipeline.run.url.full"
TASK_RUN_ID: Final = "cicd.pipeline.task.run.id"
TASK_RUN_URL: Final = "cicd.pipeline.task.run.url.full"
TASK_STATUS: Final = "cicd.pipeline.run.task.status"  # AttributeCICDPipelineTaskRunStatus
QUEUE_DURATION: Final = "cicd.pipeline.run.queue.duration"  # TRACE createJobQueueSpan
REPOSITORY: Final = "vcs.repository.name"
OWNER: Final = "vcs.repository.owner"  # older MODEL versions only
PROVIDER_KEYS: Final = ("vcs.provider.name", "vcs.vendor.name")  # MODEL: newer, older

# MODEL: a run's or job's conclusion as the receiver records it: the four it names, else the
# conclusion as GitHub sent it ("neutral, timed_out, action_required, stale, startup_failure").
EXECUTION_STATUS: Final = {
    "success": "completed",
    "neutral": "completed",
    "failure": "failed",
    "startup_failure": "failed",
    "action_required": "failed",
    "timed_out": "timeout",
    "cancellation": "cancelled",
    "stale": "cancelled",
    "skip": "cancelled",  # a skipped run never ran
}
STEP_STATUS: Final = {
    "success": "completed",
    "neutral": "completed",
    "failure": "failed",
    "timed_out": "failed",  # a step has no timeout status; the error says it
    "action_required": "failed",
    "cancellation": "cancelled",
    "stale": "cancelled",
    "skip": "skipped",
}
# Conclusions whose name is the only error message GitHub gives.
ERRORS: Final = {
    "timed_out": "timed out",
    "startup_failure": "startup failure",
    "action_required": "action required",
}

# MODEL: html_url of a run, "https://github.com/{owner}/{repo}/actions/runs/{id}".
_OWNER_REPO: Final = re.compile(r"^https?://[^/]+/([^/]+)/([^/]+)/actions/")

STEP_SEPARATOR: Final = " > "


class GitHubActions:
    """The contrib GitHub receiver's traces."""

    name: Final = "github-actions"
    # The run's and the job's own keys are on the resource (MODEL), the steps' on the span
    # (TRACE createStepSpan): the collector must look for these in the resource bytes too.
    markers: Final = (RUN_ID.encode(), TASK_RUN_ID.encode(), TASK_STATUS.encode())

    def recognize(self, span: ForeignSpan) -> dict[str, Any] | None:
        if not _is_github(span):
            return None
        if c.CICD_TASK_NAME in span.attributes:  # TRACE createStepSpan: a step of a job
            return _job_step(span)
        if QUEUE_DURATION in span.attributes:  # TRACE createJobQueueSpan: a plain child span
            return None
        if span.resource.get(TASK_RUN_ID) is not None:  # MODEL getWorkflowJobAttrs: a job
            return _job(span)
        if not span.parent_span_id and span.resource.get(RUN_ID) is not None:  # createRootSpan
            return _run(span)
        return None


def _is_github(span: ForeignSpan) -> bool:
    # MODEL: "vcs.provider.name" (v1.37+ conventions) or "vcs.vendor.name" (older) = "github".
    return any(span.resource.get(key) == "github" for key in PROVIDER_KEYS)


def _conclusion(span: ForeignSpan, key: str) -> str | None:
    # MODEL: a conclusion outside the four named lands under RUN_STATUS, even for a job
    # (getWorkflowJobAttrs' default case), so a job reads both keys.
    return text_of(span, key) or text_of(span, RUN_STATUS)


def _run(span: ForeignSpan) -> dict[str, Any]:
    owner, repository = _owner_repository(span, RUN_URL)
    name = text_of(span, c.CICD_PIPELINE_NAME) or span.name  # MODEL: workflow_run.name
    conclusion = _conclusion(span, RUN_STATUS)
    derived: dict[str, Any] = {
        # The workflow is the repository's workflow of that name: runs of it share the id.
        c.WORKFLOW_ID: workflow_key(owner, repository, name),
        c.WORKFLOW_NAME: name,
        c.WORKFLOW_EXECUTION_ID: text_of(span, RUN_ID),  # MODEL: workflow_run.id
    }
    if conclusion in EXECUTION_STATUS:
        derived[c.WORKFLOW_STATUS] = EXECUTION_STATUS[conclusion]
    if conclusion in ERRORS:
        derived[c.WORKFLOW_ERROR] = ERRORS[conclusion]
    return derived


def _job(span: ForeignSpan) -> dict[str, Any]:
    job = text_of(span, c.CICD_PIPELINE_NAME) or span.name  # MODEL: workflow_job.name
    conclusion = _conclusion(span, TASK_STATUS)
    derived: dict[str, Any] = {
        c.STEP_ID: job,
        c.STEP_NAME: job,
        # TRACE createParentSpan: the job's span starts at created_at, when it was queued for
        # a runner (its queue span runs from then to started_at).
        c.STEP_QUEUED_TIME: span.start_ns or None,
    }
    # The job's resource names no workflow (getWorkflowJobAttrs has no workflow_name), so the
    # step does not say workflow.id; its trace ties it to the run.
    if conclusion in STEP_STATUS:
        derived[c.STEP_STATUS] = STEP_STATUS[conclusion]
    if conclusion in ERRORS:
        derived[c.STEP_ERROR] = ERRORS[conclusion]
    return derived


def _job_step(span: ForeignSpan) -> dict[str, Any]:
    step = m.text(span.attributes.get(c.CICD_TASK_NAME)) or span.name
    job = text_of(span, c.CICD_PIPELINE_NAME)  # the job's resource (TRACE handleWorkflowJob)
    qualified = f"{job}{STEP_SEPARATOR}{step}" if job else step
    derived: dict[str, Any] = {c.STEP_ID: qualified, c.STEP_NAME: qualified}
    status = m.text(span.attributes.get(TASK_STATUS))
    # TRACE createStepSpan: a skipped step is recorded as "failure" with an UNSET span status
    # (a real failure has ERROR); a cancelled one as "cancellation".
    if status == "failure" and span.status_code != c.STATUS_CODE_ERROR:
        derived[c.STEP_STATUS] = "skipped"
    elif status in STEP_STATUS:
        derived[c.STEP_STATUS] = STEP_STATUS[status]
    return derived


def _owner_repository(span: ForeignSpan, url_key: str) -> tuple[str | None, str | None]:
    """(owner, repository): the newer MODEL drops vcs.repository.owner, but the run's URL
    ("https://github.com/{owner}/{repo}/actions/runs/{id}") still names both."""
    found = _OWNER_REPO.match(text_of(span, url_key) or "")
    owner = found.group(1) if found else text_of(span, OWNER)
    repository = text_of(span, REPOSITORY) or (found.group(2) if found else None)
    return owner, repository
