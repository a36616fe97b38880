"""A mapping file: an operator's recognizer for a tracer Flowscope does not know, without code.

`flowscope serve --mapping FILE` (YAML, or JSON, which YAML reads too) declares which spans are
runs (executions) and which are steps, and which attributes hold the ids, the status, the
attempt and the error. `load` validates it at start and reports every problem at once, each
with its line, column and path in the file; `json_schema` is the published JSON Schema
(docs/mapping.schema.json). examples/mappings/ ships one for a real tracer.

A rule matches a span by attribute values (at least one attribute: its key is what lets the
collector skip every other span unread), and optionally by span name (a shell-style pattern),
instrumentation scope, service name and whether it is a trace root. The first execution
rule, then the first step rule, that matches a span says what it is.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import re2  # type: ignore[import-untyped]
import yaml
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, model_validator

from flowscope import conventions as c
from flowscope import workflow_meaning as m
from flowscope.workflow_meaning import ForeignSpan

MAX_FILE_BYTES = 1024 * 1024  # a mapping is configuration: anything larger is a mistake
_SPAN_KIND_SERVER = 2

ExecutionStatus = Literal["completed", "failed", "cancelled", "timeout"]
StepStatus = Literal["completed", "failed", "skipped", "cancelled"]
Key = Annotated[str, StringConstraints(min_length=1, max_length=256)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EventValue(_Strict):
    """An attribute of the span's last event of a name (e.g. the `exception` event's message)."""

    name: Key = Field(..., description="The event's name, e.g. 'exception'.")
    attribute: Key = Field(..., description="Its attribute's key, e.g. 'exception.message'.")


_SOURCES = ("attribute", "resource", "span_name", "status_message", "event", "template", "value")
_PLACEHOLDER = re.compile(r"\{([^{}]+)\}")


class Value(_Strict):
    """Where one value is read: exactly one source (`attribute`, `resource`, `span_name`,
    `status_message`, `event`, `template`, `value`); then, optionally, `pattern`: a regular
    expression whose first group (or whole match) is the value, the value being absent when it
    does not match."""

    attribute: Key | None = Field(None, description="A span attribute's key.")
    resource: Key | None = Field(None, description="A resource attribute's key (e.g. service.name).")
    span_name: Literal[True] | None = Field(None, description="The span's name.")
    status_message: Literal[True] | None = Field(None, description="The span status's description.")
    event: EventValue | None = Field(None, description="An attribute of the span's last event of a name.")
    template: str | None = Field(
        None,
        max_length=1024,
        description="Text with {key} placeholders, each a span attribute (else a resource attribute), "
        "e.g. '{kestra.namespace}.{kestra.flowId}'; absent when one of them is.",
    )
    value: str | int | None = Field(None, description="A constant.")
    pattern: str | None = Field(
        None, max_length=1024, description="An RE2 regular expression, as the OTel Collector's: group 1 kept."
    )

    @model_validator(mode="after")
    def _one_source(self) -> Value:
        sources = [s for s in _SOURCES if getattr(self, s) is not None]
        if len(sources) != 1:
            got = f" (got {', '.join(sources)})" if sources else ""
            raise ValueError(f"give exactly one of {', '.join(_SOURCES)}{got}")
        if self.template is not None and not _PLACEHOLDER.search(self.template):
            raise ValueError("template names no {attribute}: use value for a constant")
        if self.pattern is not None:
            try:
                compiled = _compiled(self.pattern)
            except re2.error as exc:
                reason = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else exc
                raise ValueError(f"pattern is not a valid RE2 regular expression: {reason}") from None
            if compiled.groups > 1:
                raise ValueError("pattern may have at most one group (the value)")
        return self

    def read(self, span: ForeignSpan) -> Any:
        found = self._source(span)
        if found is None or self.pattern is None:
            return found
        match = _compiled(self.pattern).search(m.text(found) or "")
        if match is None:
            return None
        return match.group(1) if match.re.groups else match.group(0)

    def _source(self, span: ForeignSpan) -> Any:
        if self.attribute is not None:
            return span.attributes.get(self.attribute)
        if self.resource is not None:
            return span.resource.get(self.resource)
        if self.span_name is not None:
            return span.name
        if self.status_message is not None:
            return span.status_message or None
        if self.event is not None:
            wanted = self.event
            last = next((attrs for name, _, attrs in reversed(span.events) if name == wanted.name), None)
            return None if last is None else last.get(wanted.attribute)
        if self.template is not None:
            return _fill(self.template, span)
        return self.value


def _fill(template: str, span: ForeignSpan) -> str | None:
    """`template` with each {key} replaced by that attribute's text; None when one is absent."""
    parts: list[str] = []
    end = 0
    for found in _PLACEHOLDER.finditer(template):
        key = found.group(1)
        value = m.text(span.attributes.get(key, span.resource.get(key)))
        if value is None:
            return None
        parts += (template[end : found.start()], value)
        end = found.end()
    return "".join(parts) + template[end:]


class ExecutionStatusValue(Value):
    values: dict[str, ExecutionStatus] = Field(
        default_factory=dict,
        description="The emitter's status values and what each means; values not listed, or an "
        "absent attribute, leave the span status to decide (ERROR: failed, otherwise completed).",
    )


class StepStatusValue(Value):
    values: dict[str, StepStatus] = Field(
        default_factory=dict,
        description="The emitter's status values and what each means (see the execution's).",
    )


AttributeValue = str | int | float | bool


class Match(_Strict):
    """Which spans a rule is about: all conditions given must hold."""

    attributes: dict[Key, AttributeValue | None] = Field(
        ...,
        min_length=1,
        description="Attribute key -> the value it must have, or null for any value (present).",
    )
    span_name: str | None = Field(None, max_length=1024, description="Shell-style pattern, e.g. 'job *'.")
    scope: str | None = Field(None, description="Instrumentation scope name.")
    service: str | None = Field(None, description="The resource's service.name.")
    root: bool | None = Field(None, description="true: a trace root only; false: only spans with a parent.")

    def holds(self, span: ForeignSpan) -> bool:
        for key, wanted in self.attributes.items():
            if key not in span.attributes or (wanted is not None and span.attributes[key] != wanted):
                return False
        if self.span_name is not None and not fnmatch.fnmatchcase(span.name, self.span_name):
            return False
        if self.scope is not None and span.scope_name != self.scope:
            return False
        if self.service is not None and span.resource.get("service.name") != self.service:
            return False
        return self.root is None or self.root == (not span.parent_span_id)


class ExecutionRule(_Strict):
    """Spans that are runs. Only a trace root, or a SERVER span continuing a remote parent, can
    be an execution (one execution per trace): other spans this rule matches are left alone."""

    match: Match
    workflow_id: Value = Field(..., description="The workflow's stable identity (e.g. a pipeline name).")
    workflow_name: Value | None = None
    execution_id: Value | None = Field(None, description="The emitter's own run id (shown with the run).")
    execution_number: Value | None = Field(None, description="An integer run number.")
    status: ExecutionStatusValue | None = None
    error: Value | None = Field(None, description="The error message (else the span's status message).")
    input: Value | None = None
    output: Value | None = None
    queued_time: Value | None = Field(None, description="When the run was queued, in ns since the epoch.")

    def derive(self, span: ForeignSpan) -> dict[str, Any] | None:
        if span.parent_span_id and span.kind != _SPAN_KIND_SERVER:
            return None
        workflow_id = m.text(self.workflow_id.read(span))
        if workflow_id is None:
            return None
        return {
            c.WORKFLOW_ID: workflow_id,
            c.WORKFLOW_NAME: _text(self.workflow_name, span),
            c.WORKFLOW_EXECUTION_ID: _text(self.execution_id, span),
            c.WORKFLOW_EXECUTION_NUMBER: _integer(self.execution_number, span),
            c.WORKFLOW_STATUS: _status(self.status, span),
            c.WORKFLOW_ERROR: _text(self.error, span),
            c.WORKFLOW_INPUT: _text(self.input, span),
            c.WORKFLOW_RESULTS: _text(self.output, span),
            c.WORKFLOW_QUEUED_TIME: _integer(self.queued_time, span),
        }


class StepRule(_Strict):
    """Spans that are steps of the execution of their trace."""

    match: Match
    step_id: Value = Field(..., description="The step's identity, stable across runs (e.g. a task name).")
    step_name: Value | None = None
    workflow_id: Value | None = Field(
        None, description="The workflow, when step spans carry it: the run shows as running before it ends."
    )
    status: StepStatusValue | None = None
    attempt: Value | None = Field(None, description="The 1-based try this span is (retries = attempt - 1).")
    retry_count: Value | None = Field(None, description="How many times the step was retried.")
    error: Value | None = None
    input: Value | None = None
    output: Value | None = None
    queued_time: Value | None = Field(None, description="When the step was queued, in ns since the epoch.")

    def derive(self, span: ForeignSpan) -> dict[str, Any] | None:
        step_id = m.text(self.step_id.read(span))
        if step_id is None:
            return None
        retries = _integer(self.retry_count, span)
        attempt = _integer(self.attempt, span)
        if retries is None and attempt is not None and attempt > 1:
            retries = attempt - 1
        return {
            c.STEP_ID: step_id,
            c.STEP_NAME: _text(self.step_name, span),
            c.WORKFLOW_ID: _text(self.workflow_id, span),
            c.STEP_STATUS: _status(self.status, span),
            c.STEP_RETRY_COUNT: retries,
            c.STEP_ERROR: _text(self.error, span),
            c.STEP_INPUT: _text(self.input, span),
            c.STEP_OUTPUT: _text(self.output, span),
            c.STEP_QUEUED_TIME: _integer(self.queued_time, span),
        }


class MappingFile(_Strict):
    """How one tracer's spans become Flowscope executions and steps."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        title="Flowscope mapping file",
        json_schema_extra={"$id": "https://flowscope.dev/schemas/mapping-1.json"},
    )

    version: Literal[1] = Field(..., description="The format's version: 1.")
    name: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")] = Field(
        ..., description="Names what it recognized (stored as flowscope.recognizer), e.g. 'kestra'."
    )
    description: str | None = None
    executions: list[ExecutionRule] = Field(default_factory=list)
    steps: list[StepRule] = Field(default_factory=list)

    @model_validator(mode="after")
    def _some_rule(self) -> MappingFile:
        if not self.executions and not self.steps:
            raise ValueError("declare at least one rule under executions or steps")
        return self


@dataclass(frozen=True, slots=True)
class MappingRecognizer:
    """A mapping file as a recognizer (flowscope.emitters)."""

    mapping: MappingFile

    @property
    def name(self) -> str:
        return self.mapping.name

    @property
    def markers(self) -> tuple[bytes, ...]:
        rules = (*self.mapping.executions, *self.mapping.steps)
        return tuple(dict.fromkeys(key.encode() for rule in rules for key in rule.match.attributes))

    def recognize(self, span: ForeignSpan) -> dict[str, Any] | None:
        for rule in (*self.mapping.executions, *self.mapping.steps):
            if rule.match.holds(span) and (derived := rule.derive(span)) is not None:
                return derived
        return None


class MappingError(ValueError):
    """A mapping file that cannot be used: every problem, one per line, each with its location."""


def load(path: Path) -> MappingRecognizer:
    """The recognizer a mapping file declares; MappingError naming every problem otherwise."""
    try:
        with path.open("rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise MappingError(f"{path}: cannot read the mapping file: {exc.strerror or exc}") from None
    if len(data) > MAX_FILE_BYTES:
        raise MappingError(f"{path}: larger than {MAX_FILE_BYTES} bytes; a mapping file is configuration")
    return parse(data, str(path))


def parse(data: bytes | str, source: str) -> MappingRecognizer:
    try:
        node = yaml.compose(data, Loader=yaml.SafeLoader)
        document = yaml.safe_load(data)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark is not None else source
        problem = getattr(exc, "problem", None) or str(exc)
        raise MappingError(f"{where}: not valid YAML/JSON: {problem}") from None
    if not isinstance(document, dict):
        raise MappingError(f"{source}: a mapping file is a mapping (version, name, executions, steps)")
    try:
        return MappingRecognizer(MappingFile.model_validate(document))
    except ValidationError as exc:
        problems = sorted(_problem(source, node, error) for error in exc.errors(include_url=False))
        lines = [f"{source}:{line}:{column}: {text}" for line, column, text in problems]
        raise MappingError("\n".join(lines)) from None


def json_schema() -> dict[str, Any]:
    """The published JSON Schema of mapping files (docs/mapping.schema.json)."""
    schema = MappingFile.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema


def _problem(source: str, root: yaml.Node | None, error: Mapping[str, Any]) -> tuple[int, int, str]:
    """(line, column, "path: message") of one validation error."""
    loc = tuple(part for part in error["loc"] if not (isinstance(part, str) and "[" in part))
    path = "".join(f"[{p}]" if isinstance(p, int) else (f".{p}" if i else str(p)) for i, p in enumerate(loc))
    line, column = _position(root, loc, at_key=error["type"] == "extra_forbidden")
    message = error["msg"].removeprefix("Value error, ")
    return line, column, f"{path or '(top)'}: {message}"


def _position(node: yaml.Node | None, loc: tuple[Any, ...], at_key: bool) -> tuple[int, int]:
    """Line and column (1-based) of the deepest part of `loc` the document has: the value
    (the key itself for an unexpected key; the parent for a missing one)."""
    if node is None:
        return 1, 1
    mark = node.start_mark
    for part in loc:
        child: yaml.Node | None = None
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if key.value == part:
                    mark, child = (key.start_mark if at_key else value.start_mark), value
                    break
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            child = node.value[part]
            mark = child.start_mark
        if child is None:
            break
        node = child
    return mark.line + 1, mark.column + 1


# Patterns run over span attributes any OTLP client sends: RE2 matches in linear time (no
# catastrophic backtracking, whatever the pattern), with the syntax of the OTel Collector's own
# regular expressions (Go's RE2). Errors are raised, not logged to stderr.
_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False
_PATTERNS: dict[str, Any] = {}


def _compiled(pattern: str) -> Any:
    found = _PATTERNS.get(pattern)
    if found is None:
        found = _PATTERNS[pattern] = re2.compile(pattern, _RE2_OPTIONS)
    return found


def _text(source: Value | None, span: ForeignSpan) -> str | None:
    return None if source is None else m.text(source.read(span))


def _integer(source: Value | None, span: ForeignSpan) -> int | None:
    return None if source is None else m.integer(source.read(span))


def _status(source: ExecutionStatusValue | StepStatusValue | None, span: ForeignSpan) -> str | None:
    if source is None:
        return None
    found = m.text(source.read(span))
    return source.values.get(found) if found is not None else None
