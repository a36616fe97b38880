"""GitLab CI, as the OpenTelemetry Collector contrib GitLab receiver traces it from GitLab's
pipeline webhook (the emitter of OTel traces of GitLab pipelines; GitLab itself exports none).

Sources (open-telemetry/opentelemetry-collector-contrib, receiver/gitlabreceiver), the newest
copies stored here (both on semconv v1.38.0):
- TRACE = traces_event_handling.go at e3bd2d1d (handlePipeline, setResourceAttributes,
  setSpanStatus)
- MODEL = model.go at 03f5f7f9 (glPipeline, glPipelineStage, glPipelineJob.setAttributes)

The shape: one trace per finished pipeline (trace id = sha256(pipeline id, finished_at)), all
spans of kind SERVER under one resource that carries the pipeline's attributes (TRACE
setResourceAttributes: service.name = the project's path_with_namespace, cicd.pipeline.name =
the pipeline's name (often empty), cicd.pipeline.result = GitLab's own status word,
cicd.pipeline.run.id, vcs.provider.name = "gitlab"):
- the pipeline: the root, created_at -> finished_at, attribute gitlab.pipeline.source;
- a span per stage, child of the root, no attributes (MODEL glPipelineStage.setAttributes);
- a span per finished job, child of its stage, started_at -> finished_at, with
  cicd.pipeline.task.name / .task.run.id / .task.run.result (GitLab's status word),
  gitlab.job.queued_duration (s), gitlab.job.failure_reason, gitlab.job.allow_failure.

What the webhook holds decides what can be known (gitlabhq lib/gitlab/data_builder/pipeline.rb
@017a6c12): `builds` are the pipeline's latest_builds, so a retried job shows only its last try
(no attempts or retry count can be derived); the pipeline's iid (its number in the project) and
queued_duration are in the webhook, but the receiver does not put them on the spans, so there is
no execution number or execution queued time.

Meaning: the pipeline is the execution; a job is a step (what GitLab queues for a runner and
retries); a stage is a group of jobs, not a step (it has no status or identity of its own
beyond its jobs', and the receiver invents its span from them), so it stays a plain span.
"""

from __future__ import annotations

from typing import Any, Final

from flowscope import conventions as c
from flowscope import workflow_meaning as m
from flowscope.emitters import ForeignSpan
from flowscope.emitters.cicd import text_of, workflow_key

PROVIDER: Final = "vcs.provider.name"  # TRACE setResourceAttributes: "gitlab"
PROJECT: Final = "service.name"  # TRACE: e.Project.PathWithNamespace
RUN_ID: Final = "cicd.pipeline.run.id"
PIPELINE_SOURCE: Final = "gitlab.pipeline.source"  # MODEL glPipeline.setAttributes
QUEUED_DURATION: Final = "gitlab.job.queued_duration"  # MODEL: seconds (float)
FAILURE_REASON: Final = "gitlab.job.failure_reason"  # MODEL: e.g. "script_failure"

# GitLab's status words (TRACE setSpanStatus names success, failed, canceled, skipped; the
# pipeline is traced once finished, so these are its final statuses). "manual": a manual job
# nobody started; it never ran.
EXECUTION_STATUS: Final = {
    "success": "completed",
    "failed": "failed",
    "canceled": "cancelled",
    "skipped": "cancelled",  # a skipped pipeline never ran
}
STEP_STATUS: Final = {
    "success": "completed",
    "failed": "failed",
    "canceled": "cancelled",
    "skipped": "skipped",
    "manual": "skipped",
}

_NANOS: Final = 1_000_000_000


class GitLab:
    """The contrib GitLab receiver's traces."""

    name: Final = "gitlab"
    # The pipeline's root holds gitlab.pipeline.source, a job gitlab.job.* (MODEL).
    markers: Final = (PIPELINE_SOURCE.encode(), QUEUED_DURATION.encode(), FAILURE_REASON.encode())
    # Every request of the receiver holds cicd.pipeline.* in its resources (MODEL), which the
    # collector looks for in every request anyway: no scan of its own (registry.Recognition).
    request_markers: Final = ()

    def recognize(self, span: ForeignSpan) -> dict[str, Any] | None:
        if span.resource.get(PROVIDER) != "gitlab":
            return None
        if c.CICD_TASK_NAME in span.attributes:  # MODEL glPipelineJob.setAttributes: a job
            return _job(span)
        if not span.parent_span_id and PIPELINE_SOURCE in span.attributes:  # glPipeline
            return _pipeline(span)
        return None  # a stage (no attributes of its own)


def _workflow_id(span: ForeignSpan) -> str | None:
    # A project's pipelines all run its one .gitlab-ci.yml: the project is the workflow (a
    # pipeline's name, when it has one, may vary with its variables).
    return workflow_key(text_of(span, PROJECT))


def _pipeline(span: ForeignSpan) -> dict[str, Any]:
    project = text_of(span, PROJECT)
    status = text_of(span, c.CICD_PIPELINE_RESULT)
    derived: dict[str, Any] = {
        c.WORKFLOW_ID: _workflow_id(span),
        c.WORKFLOW_NAME: project,
        c.WORKFLOW_EXECUTION_ID: text_of(span, RUN_ID),
    }
    if status in EXECUTION_STATUS:
        derived[c.WORKFLOW_STATUS] = EXECUTION_STATUS[status]
    return derived


def _job(span: ForeignSpan) -> dict[str, Any]:
    job = m.text(span.attributes.get(c.CICD_TASK_NAME)) or span.name
    status = m.text(span.attributes.get(c.CICD_TASK_RUN_RESULT))
    derived: dict[str, Any] = {c.STEP_ID: job, c.STEP_NAME: job, c.WORKFLOW_ID: _workflow_id(span)}
    if status in STEP_STATUS:
        derived[c.STEP_STATUS] = STEP_STATUS[status]
    reason = m.text(span.attributes.get(FAILURE_REASON))
    if reason and status == "failed":
        derived[c.STEP_ERROR] = reason  # GitLab's failure_reason, e.g. "script_failure"
    queued = m.number(span.attributes.get(QUEUED_DURATION))
    if queued is not None and queued > 0 and span.start_ns:
        # The job's span starts at started_at (MODEL glPipelineJob.setSpanData); it waited
        # queued_duration seconds for a runner before that.
        derived[c.STEP_QUEUED_TIME] = span.start_ns - round(queued * _NANOS)
    return derived
