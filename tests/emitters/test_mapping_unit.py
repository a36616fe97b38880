"""Mapping files (flowscope/emitters/mapping.py): what a valid file makes of spans, the location
of every problem in an invalid one, and the published JSON Schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
import yaml

from flowscope import conventions as c
from flowscope.emitters.mapping import MappingError, json_schema, load, parse
from flowscope.workflow_meaning import ForeignSpan

REPO = Path(__file__).resolve().parents[2]

ACME = """\
version: 1
name: acme-batch
executions:
  - match:
      attributes: {acme.kind: run}
      scope: acme.scheduler
    workflow_id: {attribute: acme.job}
    workflow_name: {span_name: true, pattern: '^batch (.+)$'}
    execution_id: {attribute: acme.run_id}
    execution_number: {attribute: acme.run_number}
    status:
      attribute: acme.state
      values: {SUCCEEDED: completed, FAILED: failed, KILLED: cancelled}
    error: {attribute: acme.reason}
    queued_time: {attribute: acme.enqueued_ns}
steps:
  - match:
      attributes: {acme.kind: task, acme.task: null}
    step_id: {attribute: acme.task}
    workflow_id: {resource: acme.job}
    attempt: {attribute: acme.try}
    status:
      attribute: acme.state
      values: {SUCCEEDED: completed, FAILED: failed, SKIPPED: skipped}
    error: {attribute: acme.reason}
"""


def span(
    attributes: dict[str, Any], *, name: str = "s", parent: str = "", kind: int = 1, **kw: Any
) -> ForeignSpan:
    fields: dict[str, Any] = {
        "name": name, "kind": kind, "trace_id": "ab" * 16, "span_id": "cd" * 8, "parent_span_id": parent,
        "start_ns": 1, "end_ns": 2, "status_code": 0, "status_message": "", "attributes": attributes,
        "scope_name": "acme.scheduler", "resource": {"acme.job": "nightly"},
    }  # fmt: skip
    fields.update(kw)
    return ForeignSpan(**fields)


def test_a_run_span_becomes_an_execution() -> None:
    recognizer = parse(ACME, "acme.yaml")
    attrs = {
        "acme.kind": "run", "acme.job": "nightly", "acme.run_id": "r-17", "acme.run_number": "17",
        "acme.state": "FAILED", "acme.reason": "disk full", "acme.enqueued_ns": 5,
    }  # fmt: skip
    assert recognizer.recognize(span(attrs, name="batch Nightly import")) == {
        c.WORKFLOW_ID: "nightly", c.WORKFLOW_NAME: "Nightly import", c.WORKFLOW_EXECUTION_ID: "r-17",
        c.WORKFLOW_EXECUTION_NUMBER: 17, c.WORKFLOW_STATUS: "failed", c.WORKFLOW_ERROR: "disk full",
        c.WORKFLOW_INPUT: None, c.WORKFLOW_RESULTS: None, c.WORKFLOW_QUEUED_TIME: 5,
    }  # fmt: skip
    assert recognizer.markers == (b"acme.kind", b"acme.task")


def test_only_a_root_or_server_span_is_an_execution_and_every_condition_must_hold() -> None:
    recognizer = parse(ACME, "acme.yaml")
    run = {"acme.kind": "run", "acme.job": "nightly"}
    assert recognizer.recognize(span(run, parent="ef" * 8)) is None  # a run inside another trace
    assert recognizer.recognize(span(run, parent="ef" * 8, kind=2)) is not None  # continues a remote parent
    assert recognizer.recognize(span(run, scope_name="other")) is None
    assert recognizer.recognize(span({"acme.kind": "run"})) is None  # no workflow id: not a run
    assert recognizer.recognize(span({"acme.kind": "task"})) is None  # acme.task must be present
    assert recognizer.recognize(span({"other": 1})) is None


def test_a_task_span_becomes_a_step_with_its_retries_and_unmapped_values_left_to_the_span_status() -> None:
    recognizer = parse(ACME, "acme.yaml")
    derived = recognizer.recognize(
        span({"acme.kind": "task", "acme.task": "load", "acme.try": 3}, parent="ef" * 8)
    )
    assert derived is not None
    assert (derived[c.STEP_ID], derived[c.WORKFLOW_ID], derived[c.STEP_RETRY_COUNT]) == ("load", "nightly", 2)
    assert derived[c.STEP_STATUS] is None  # no acme.state: the span status decides
    odd = recognizer.recognize(span({"acme.kind": "task", "acme.task": "t", "acme.state": "PAUSED"}))
    assert odd is not None and odd[c.STEP_STATUS] is None and odd[c.STEP_RETRY_COUNT] is None


SOURCES = """\
version: 1
name: sources
steps:
  - match: {attributes: {k.task: null}}
    step_id: {template: '{k.ns}.{k.task}'}
    workflow_id: {template: '{service.name}/{k.ns}'}
    status:
      status_message: true
      pattern: 'ended in state (\\w+)'
      values: {KILLED: cancelled, FAILED: failed}
    error: {event: {name: exception, attribute: exception.message}}
"""


def test_templates_status_messages_and_events_are_value_sources() -> None:
    recognizer = parse(SOURCES, "sources.yaml")
    events = (("exception", 1, {"exception.message": "first"}), ("log", 2, {}),
              ("exception", 3, {"exception.message": "exit code 1"}))  # fmt: skip
    killed = span({"k.ns": "team", "k.task": "load"}, status_message="Task ended in state KILLED",
                  events=events, resource={"service.name": "kestra"})  # fmt: skip
    derived = recognizer.recognize(killed)
    assert derived is not None
    assert (derived[c.STEP_ID], derived[c.WORKFLOW_ID], derived[c.STEP_STATUS], derived[c.STEP_ERROR]) == (
        "team.load", "kestra/team", "cancelled", "exit code 1",  # the last exception event
    )  # fmt: skip
    # A placeholder absent: the value is; no such event or message: neither.
    bare = recognizer.recognize(span({"k.task": "load"}, resource={}))
    assert bare is None  # no step id without {k.ns}
    quiet = recognizer.recognize(span({"k.ns": "team", "k.task": "x"}, resource={"service.name": "s"}))
    assert quiet is not None and quiet[c.STEP_STATUS] is None and quiet[c.STEP_ERROR] is None


BAD = [
    (
        "version: 1\nname: x\nsteps:\n  - match: {attributes: {k: 1}}\n    step_id: {template: plain}\n",
        ["x.yaml:5:14: steps[0].step_id: template names no {attribute}: use value for a constant"],
    ),
    (
        "version: 1\nname: x\nsteps:\n  - match: {attributes: {k: 1}}\n    step_id: {event: {name: e}}\n",
        ["x.yaml:5:22: steps[0].step_id.event.attribute: Field required"],
    ),
    ("version: 2\nname: x\nsteps: []\n", ["x.yaml:1:10: version: Input should be 1"]),
    ("[1, 2]\n", ["x.yaml: a mapping file is a mapping (version, name, executions, steps)"]),
    ("version: 1\nname: x\nsteps: [\n", ["x.yaml:4:1: not valid YAML/JSON: expected the node content"]),
    ("version: 1\nname: x\n", ["x.yaml:1:1: (top): declare at least one rule under executions or steps"]),
    (
        "version: 1\nname: Bad Name\nsteps:\n  - match: {attributes: {}}\n    step_id: {}\n    stepid: 1\n",
        [
            "x.yaml:2:7: name: String should match pattern",
            "x.yaml:4:25: steps[0].match.attributes: Dictionary should have at least 1 item",
            "x.yaml:5:14: steps[0].step_id: give exactly one of attribute, resource, span_name,",
            "x.yaml:6:5: steps[0].stepid: Extra inputs are not permitted",
        ],
    ),
    (
        "version: 1\nname: x\nexecutions:\n  - match: {attributes: {k: 1}}\n"
        "    workflow_id: {attribute: k, pattern: '(a)(b)'}\n"
        "    status: {attribute: s, values: {OK: done}}\n",
        [
            "x.yaml:5:18: executions[0].workflow_id: pattern may have at most one group",
            "x.yaml:6:41: executions[0].status.values.OK: Input should be 'completed', 'failed'",
        ],
    ),
    (
        "version: 1\nname: x\nsteps:\n  - match: {attributes: {k: 1}}\n"
        "    step_id: {attribute: k, pattern: '('}\n",
        ["x.yaml:5:14: steps[0].step_id: pattern is not a valid RE2 regular expression"],
    ),
    (
        "version: 1\nname: x\nsteps:\n  - match: {attributes: {k: 1}}\n",
        ["x.yaml:4:5: steps[0].step_id: Field required"],
    ),
]


@pytest.mark.parametrize(("text", "expected"), BAD)
def test_every_problem_is_reported_with_its_location(text: str, expected: list[str]) -> None:
    with pytest.raises(MappingError) as raised:
        parse(text, "x.yaml")
    lines = str(raised.value).splitlines()
    assert len(lines) == len(expected), lines
    for line, start in zip(lines, expected, strict=True):
        assert line.startswith(start), (line, start)


def test_an_unreadable_or_oversized_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(MappingError, match="cannot read the mapping file"):
        load(tmp_path / "missing.yaml")
    big = tmp_path / "big.yaml"
    big.write_text("#" * (1024 * 1024 + 1))
    with pytest.raises(MappingError, match="larger than"):
        load(big)


def test_the_published_schema_is_the_one_the_loader_checks() -> None:
    published = json.loads((REPO / "docs" / "mapping.schema.json").read_text())
    assert published == json_schema(), "run: flowscope mapping schema > docs/mapping.schema.json"
    validator = jsonschema_rs.validator_for(published)
    assert validator.is_valid(yaml.safe_load(ACME))
    assert not validator.is_valid({**yaml.safe_load(ACME), "version": 2})
    for example in sorted((REPO / "examples" / "mappings").glob("*.yaml")):
        document = yaml.safe_load(example.read_text())
        assert validator.is_valid(document), example
        load(example)  # and the loader takes it


def test_a_pattern_cannot_backtrack_for_ever_on_a_hostile_value() -> None:
    """Patterns run over attributes any client sends: RE2 is linear in the value, so a pattern
    a backtracking engine takes exponential time on still answers (with Python's `re` this
    value would not finish before the test's timeout)."""
    text = (
        "version: 1\nname: x\nsteps:\n  - match: {attributes: {k: null}}\n"
        "    step_id: {attribute: k, pattern: '^(a+)+$'}\n"
    )
    recognizer = parse(text, "x.yaml")
    assert recognizer.recognize(span({"k": "a" * 5000 + "!"})) is None  # no match: no step id
    found = recognizer.recognize(span({"k": "aaaa"}))
    assert found is not None and found[c.STEP_ID] == "aaaa"
