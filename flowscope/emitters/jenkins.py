"""Jenkins, as its OpenTelemetry plugin (jenkinsci/opentelemetry-plugin) traces builds.

Sources: jenkinsci/opentelemetry-plugin main at 9c9078cf (2026-02-15, release
3.1573.v72f1a_711ca_98 + 7 commits), src/main/java/io/jenkins/plugins/opentelemetry/:
- ATTRS = semconv/ExtendedJenkinsAttributes.java (the legacy `ci.pipeline.*` /
  `jenkins.pipeline.step.*` keys, "BUILD " root span prefix, scope io.jenkins.opentelemetry)
- RUN = job/MonitoringRunListener.java (_onInitialize: root span, kind SERVER, ci.pipeline.id =
  Job#getFullName, ci.pipeline.name = full display name, ci.pipeline.run.number, a remote or
  upstream parent when one triggered it; _onFinalized: ci.pipeline.run.result = Run#getResult
  (SUCCESS | UNSTABLE | FAILURE | NOT_BUILT | ABORTED), status OK / ERROR (FAILURE, UNSTABLE)
  / UNSET, with the result as status message)
- HANDLER = job/runhandler/DefaultRunHandler.java (root span name "BUILD {job full name}")
- CAUSE = job/cause/UpstreamCauseHandler.java (ci.pipeline.run.cause "UpstreamCause:{job}#{n}")
- PIPELINE = job/MonitoringPipelineListener.java (onStartStageStep: "Stage: {name}", type
  "stage"; onStartParallelStepBranch: "Parallel branch: {name}"; onAtomicStep: one span per
  step (sh, echo, ...); endCurrentSpan: jenkins.pipeline.step.result = the chunk's GenericStatus
  (SUCCESS | UNSTABLE | FAILURE | NOT_EXECUTED | ABORTED ...), status ERROR with the
  exception's message, or the interruption causes, and an exception event)
- The newer `cicd.*` names: semconv/SemConvStability.java at e62d3947 (JENKINS | JENKINS_OTEL_DUP
  | OTEL: legacy keys, both, or OpenTelemetry's CI/CD conventions only) from PR #1251 ("Adopt
  OTel cicd.* semantic conventions ... span attributes", semconv v1.37.0). The span code of
  that PR is not in the stored copies: with OTEL only, the spans are read by those conventions
  (cicd.pipeline.name / .run.id / .result, cicd.pipeline.task.*), which Flowscope reads
  natively; this recognizer adds the build number and the stable id.

Meaning: a build is the execution; a stage is a step (the unit a Jenkinsfile names, whose
status Jenkins computes); a build triggered by another build in the same trace (the `build`
step) is a step of the upstream execution (a subflow), named by its job. Parallel branches are
not steps: in a declarative pipeline each branch holds a stage of the same name, which is the
step, and a scripted branch is a scheduling container. The steps inside a stage (sh, echo, ...)
are its commands, plain spans. Jenkins does not mark retries (`retry` re-runs the block inside
the same stage span) or queueing (the root span starts when the build leaves the queue).
"""

from __future__ import annotations

from typing import Any, Final

from flowscope import conventions as c
from flowscope import workflow_meaning as m
from flowscope.emitters import ForeignSpan
from flowscope.emitters.cicd import workflow_key

SCOPE: Final = "io.jenkins.opentelemetry"  # ATTRS INSTRUMENTATION_NAME
PIPELINE_ID: Final = "ci.pipeline.id"
PIPELINE_NAME: Final = "ci.pipeline.name"
RUN_NUMBER: Final = "ci.pipeline.run.number"
RUN_RESULT: Final = "ci.pipeline.run.result"
RUN_CAUSE: Final = "ci.pipeline.run.cause"
STEP_TYPE: Final = "jenkins.pipeline.step.type"
STEP_NAME: Final = "jenkins.pipeline.step.name"
STEP_RESULT: Final = "jenkins.pipeline.step.result"
STAGE_PREFIX: Final = "Stage: "  # PIPELINE onStartStageStep
UPSTREAM_CAUSES: Final = ("UpstreamCause:", "BuildUpstreamCause:")  # CAUSE: class simple names

# RUN _onFinalized: hudson.model.Result. UNSTABLE is an error span there too (tests failed).
EXECUTION_STATUS: Final = {
    "SUCCESS": "completed",
    "UNSTABLE": "failed",
    "FAILURE": "failed",
    "ABORTED": "cancelled",
    "NOT_BUILT": "cancelled",
}
# PIPELINE endCurrentSpan: GenericStatus after coerceStatusApi(API_V2).
STEP_STATUS: Final = {
    "SUCCESS": "completed",
    "UNSTABLE": "failed",
    "FAILURE": "failed",
    "ABORTED": "cancelled",
    "NOT_EXECUTED": "skipped",  # e.g. a declarative stage whose `when` was false
}
UNSUCCESSFUL_RESULTS: Final = frozenset({"UNSTABLE", "FAILURE", "ABORTED", "NOT_BUILT"})


class Jenkins:
    """The Jenkins OpenTelemetry plugin's build traces."""

    name: Final = "jenkins"
    markers: Final = (
        PIPELINE_ID.encode(),  # every build root span (RUN)
        STEP_TYPE.encode(),  # every stage, branch and step span (PIPELINE)
        c.CICD_PIPELINE_NAME.encode(),  # semconv OTEL mode (SemConvStability)
        c.CICD_TASK_NAME.encode(),
    )

    def recognize(self, span: ForeignSpan) -> dict[str, Any] | None:
        attrs = span.attributes
        if PIPELINE_ID in attrs:
            return _build(span)
        if m.text(attrs.get(STEP_TYPE)) == "stage":  # PIPELINE onStartStageStep (any span name)
            return _stage(span)
        if span.scope_name == SCOPE and not span.parent_span_id and c.CICD_PIPELINE_NAME in attrs:
            return _otel_build(span)
        return None


def _result_status(result: str | None, table: dict[str, str]) -> str | None:
    return table.get(result) if result else None


def _build(span: ForeignSpan) -> dict[str, Any]:
    attrs = span.attributes
    job = m.text(attrs.get(PIPELINE_ID))  # Job#getFullName, e.g. "team/app/main"
    number = m.integer(attrs.get(RUN_NUMBER))
    result = m.text(attrs.get(RUN_RESULT))
    if span.parent_span_id and _triggered_by_upstream(attrs.get(RUN_CAUSE)):
        # A downstream build in its upstream build's trace: a step of that execution.
        return {
            c.STEP_ID: job,
            c.STEP_NAME: m.text(attrs.get(PIPELINE_NAME)) or job,
            c.STEP_STATUS: _result_status(result, EXECUTION_STATUS),
        }
    derived: dict[str, Any] = {
        c.WORKFLOW_ID: workflow_key(job),
        c.WORKFLOW_NAME: m.text(attrs.get(PIPELINE_NAME)) or job,
        c.WORKFLOW_EXECUTION_NUMBER: number,
        # Jenkins's own run id (Run#getExternalizableId): "{job full name}#{number}".
        c.WORKFLOW_EXECUTION_ID: f"{job}#{number}" if job and number is not None else None,
        c.WORKFLOW_STATUS: _result_status(result, EXECUTION_STATUS),
    }
    if result in UNSUCCESSFUL_RESULTS and not span.status_message:
        derived[c.WORKFLOW_ERROR] = result  # older versions set no status message (RUN)
    return derived


def _triggered_by_upstream(causes: Any) -> bool:
    return isinstance(causes, list) and any(str(cause).startswith(UPSTREAM_CAUSES) for cause in causes)


def _stage(span: ForeignSpan) -> dict[str, Any]:
    attrs = span.attributes
    stage = m.text(attrs.get(STEP_NAME)) or span.name.removeprefix(STAGE_PREFIX)
    derived: dict[str, Any] = {c.STEP_ID: stage, c.STEP_NAME: stage}
    result = m.text(attrs.get(STEP_RESULT))
    status = _result_status(result, STEP_STATUS)
    if status is not None:
        derived[c.STEP_STATUS] = status
    if result == "UNSTABLE" and span.status_code != c.STATUS_CODE_ERROR:
        derived[c.STEP_ERROR] = "UNSTABLE"  # unstable() sets the result, not an error (PIPELINE)
    return derived


def _otel_build(span: ForeignSpan) -> dict[str, Any]:
    # SemConvStability OTEL: OpenTelemetry's names only. Jenkins's run id is its build number
    # (Run#getId), which makes it the execution number too.
    name = m.text(span.attributes.get(c.CICD_PIPELINE_NAME))
    run_id = m.text(span.attributes.get(c.CICD_PIPELINE_RUN_ID))
    return {
        c.WORKFLOW_ID: workflow_key(name),
        c.WORKFLOW_NAME: name,
        c.WORKFLOW_EXECUTION_NUMBER: m.integer(run_id),
    }
