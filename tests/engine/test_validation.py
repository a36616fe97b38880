"""Definition validation: every error kind, with its location and message, all at once."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from flowscope.engine.config import EngineConfig
from flowscope.engine.model import WorkflowDefinition
from flowscope.engine.validation import validate_definition

from tests.engine.conftest import step, wf


def problems_of(data: Any, **kwargs: Any) -> list[str]:
    model, problems = validate_definition(data, **kwargs)
    assert (model is None) == bool(problems)
    return [str(p) for p in problems]


def kinds_of(data: Any, **kwargs: Any) -> set[str]:
    return {p.kind for p in validate_definition(data, **kwargs)[1]}


def test_valid_definition_returns_model() -> None:
    model, problems = validate_definition(wf(step("a"), step("b", "a")))
    assert problems == []
    assert isinstance(model, WorkflowDefinition)
    assert [s.id for s in model.steps] == ["a", "b"]
    assert model.steps[1].trigger_rule.value == "none_failed_min_one_success"


def test_unknown_dependency_location_and_hint() -> None:
    data = wf(step("initialize"), step("process", "initialize"), step("finalize", "proces"))
    assert problems_of(data) == ["steps[2].depends_on[0]: unknown step 'proces' (did you mean 'process'?)"]


def test_duplicate_ids() -> None:
    assert problems_of(wf(step("a"), step("b"), step("a"))) == [
        "steps[2].id: duplicate step id 'a' (also steps[0])"
    ]


def test_cycle_is_named() -> None:
    data = wf(step("a", "c"), step("b", "a"), step("c", "b"), step("d"))
    assert problems_of(data) == ["steps[0].depends_on: dependency cycle: a -> c -> b -> a"]
    assert problems_of(wf(step("a", "a"))) == ["steps[0].depends_on[0]: a step cannot depend on itself"]


def test_two_cycles_both_reported() -> None:
    data = wf(step("a", "b"), step("b", "a"), step("x", "y"), step("y", "x"))
    assert problems_of(data) == [
        "steps[0].depends_on: dependency cycle: a -> b -> a",
        "steps[2].depends_on: dependency cycle: x -> y -> x",
    ]


def test_unknown_action_type() -> None:
    data = wf(step("a", action={"type": "teleport", "params": {}}))
    (problem,) = problems_of(data)
    assert problem.startswith("steps[0].action.type: unknown action type 'teleport' (known: ")
    assert "delay" in problem


def test_disabled_actions_have_clear_messages() -> None:
    data = wf(
        step("a", action={"type": "shell", "params": {"command": "true"}}),
        step("b", action={"type": "http", "params": {"url": "http://example.com"}}),
    )
    assert problems_of(data) == [
        "steps[0].action.type: action 'shell' is disabled: shell steps are off "
        "(enable them with --enable-shell)",
        "steps[1].action.type: action 'http' is disabled: no hosts are allowed "
        "(configure http_allowed_hosts / --http-allowed-host)",
    ]
    enabled = EngineConfig(enable_shell=True, http_allowed_hosts=("example.com",))
    assert problems_of(data, config=enabled) == []


def test_module_reference_needs_allow_list() -> None:
    data = wf(step("a", action={"type": "os:system", "params": {}}))
    assert problems_of(data) == [
        "steps[0].action.type: action 'os:system' is disabled: module 'os' is not allowed "
        "(EngineConfig.python_modules)"
    ]


def test_params_rejected_by_action_model() -> None:
    data = wf(
        step("a", action={"type": "delay", "params": {"seconds": -1, "colour": "red"}}),
        step("b", action={"type": "sql", "params": {"sql": "select 1"}}),
    )
    assert problems_of(data) == [
        "steps[0].action.params.seconds: Input should be greater than or equal to 0",
        "steps[0].action.params.colour: Extra inputs are not permitted",
        "steps[1].action.params.database: Field required",
    ]


def test_templated_params_are_checked_at_run_time_only() -> None:
    data = wf(
        step("a", output=5), step("b", "a", action={"type": "delay", "params": {"seconds": "${{ 0.01 }}"}})
    )
    assert problems_of(data) == []


def test_expressions_that_do_not_parse() -> None:
    data = wf(
        step("a", condition="mode =="),
        step("b", action={"type": "delay", "params": {"output": "x ${{ 1 + }} y"}}),
        step("c", action={"type": "delay", "params": {"output": "${{ 1 "}}),
        inputs={"mode": {"type": "string"}},
    )
    problems = problems_of(data)
    assert len(problems) == 3
    assert problems[0].startswith("steps[0].condition: invalid expression: <input>:1:8: Syntax error")
    assert problems[1].startswith("steps[1].action.params.output: invalid expression:")
    assert (
        problems[2] == "steps[2].action.params.output: invalid expression: unterminated '${{' "
        "(expected '${{ expression }}')"
    )


def test_unknown_names_and_steps_not_upstream() -> None:
    data = wf(
        step("a", output={"n": 1}),
        step("b", condition="mdoe == 'fast'"),
        step("c", "b", condition="steps.a.output.n > 0 && [1, 2].all(x, x > 0)"),
        step("d", "a", condition="steps.zzz.status == 'completed'"),
        inputs={"mode": {"type": "string"}},
    )
    assert problems_of(data) == [
        "steps[1].condition: unknown name 'mdoe' (did you mean 'mode'?)",
        "steps[2].condition: step 'a' is not upstream of this step (add it to depends_on)",
        "steps[3].condition: unknown step 'zzz'",
    ]


def test_schema_errors_have_locations() -> None:
    data = {
        "name": "",
        "steps": [{"id": "bad id!", "action": {"type": "delay"}, "retry": {"max_attempts": 0}, "extra": 1}],
        "inputs": {"x": {"type": "integer", "default": "nope"}, "steps": {}},
    }
    problems = problems_of(data)
    assert "name: String should have at least 1 character" in problems
    assert "steps[0].id: String should match pattern '^[A-Za-z0-9_][A-Za-z0-9_-]*$'" in problems
    assert "steps[0].retry.max_attempts: Input should be greater than or equal to 1" in problems
    assert "steps[0].extra: Extra inputs are not permitted" in problems
    assert "inputs: Value error, input names reserved by the expression language: ['steps']" in problems
    assert "inputs.x.default: default must be of type integer" in problems


def test_every_problem_at_once() -> None:
    data = wf(
        step("a", "missing"),
        step("a"),
        step("c", action={"type": "nope", "params": {}}),
        step("d", condition="(("),
    )
    assert kinds_of(data) == {"unknown_step", "duplicate_id", "unknown_action", "invalid_expression"}


def test_not_an_object_and_invalid_shapes() -> None:
    assert problems_of([1, 2]) == ["a workflow definition must be a JSON object"]
    assert problems_of({"name": "x", "steps": []}) == [
        "steps: List should have at least 1 item after validation, not 0"
    ]


def test_hostile_input_is_rejected_fast() -> None:
    deep: Any = "x"
    for _ in range(10_000):
        deep = [deep]
    t0 = time.perf_counter()
    assert problems_of({"name": "x", "steps": deep}) == ["definition nested deeper than 32 levels"]
    assert problems_of({"name": "x" * 300_000, "steps": []}) == ["a string is longer than 200000 characters"]
    many = wf(*(step(f"s{i}") for i in range(10_001)))
    assert problems_of(many) == ["steps: more than 10000 steps (max_steps)"]  # before validating any
    assert time.perf_counter() - t0 < 5


def test_ten_thousand_step_chain_validates_quickly() -> None:
    steps = [
        step(
            f"s{i}", *([f"s{i - 1}"] if i else []), condition="steps.s0.status == 'completed'" if i else None
        )
        for i in range(10_000)
    ]
    for s in steps:
        if s["condition"] is None:
            del s["condition"]
    t0 = time.perf_counter()
    assert problems_of(wf(*steps)) == []
    assert time.perf_counter() - t0 < 10


def test_json_schema_is_published_and_shipped() -> None:
    schema = WorkflowDefinition.model_json_schema(by_alias=True)
    assert schema["title"] == "Flowscope workflow"
    assert {"name", "steps"} <= set(schema["required"])
    shipped = Path(__file__).resolve().parents[2] / "examples" / "workflow.schema.json"
    assert json.loads(shipped.read_text()) == schema, "regenerate examples/workflow.schema.json"
