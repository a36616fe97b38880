"""The Engine facade (inputs, queueing, cancel, shutdown) and the CLI commands."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
import typer
from flowscope.engine.commands import register
from flowscope.engine.examples import example_paths
from flowscope.engine.inputs import InputError, parse_cli_inputs
from flowscope.engine.model import WorkflowDefinition
from flowscope.engine.validation import DefinitionError
from typer.testing import CliRunner

from flowscope import conventions as c
from tests.engine.conftest import Captured, run, run_workflow, step, until, wf

INPUTS = {
    "mode": {"type": "string", "default": "standard"},
    "count": {"type": "integer", "required": True},
    "ratio": {"type": "number"},
    "flags": {"type": "object", "default": {"a": True}},
}


def test_inputs_defaults_types_and_errors(make_engine) -> None:
    definition = wf(step("a", output="${{ inputs }}"), inputs=INPUTS)
    result = run(run_workflow(make_engine(), definition, {"count": 3}))
    assert result.inputs == {"mode": "standard", "count": 3, "ratio": None, "flags": {"a": True}}
    assert result.results["a"] == result.inputs

    with pytest.raises(InputError) as err:
        run(run_workflow(make_engine(), definition, {"count": "3", "ratio": True, "nope": 1}))
    assert err.value.problems == [
        "unknown input 'nope' (declared: count, flags, mode, ratio)",
        "input 'count' must be of type integer, got str",
        "input 'ratio' must be of type number, got bool",
    ]
    with pytest.raises(InputError, match="input 'count' is required"):
        run(run_workflow(make_engine(), definition, {}))


def test_cli_input_parsing() -> None:
    model = WorkflowDefinition.model_validate(wf(step("a"), inputs=INPUTS))
    parsed = parse_cli_inputs(model, ["count=5", "ratio=0.5", "mode=fast", 'flags={"b": 1}'])
    assert parsed == {"count": 5, "ratio": 0.5, "mode": "fast", "flags": {"b": 1}}
    with pytest.raises(InputError, match="'x' is not a valid integer"):
        parse_cli_inputs(model, ["count=x"])


def test_invalid_definition_raises_with_every_problem(make_engine) -> None:
    with pytest.raises(DefinitionError) as err:
        run(run_workflow(make_engine(), wf(step("a", "b"), step("a"))))
    assert [str(p) for p in err.value.problems] == [
        "steps[1].id: duplicate step id 'a' (also steps[0])",
        "steps[0].depends_on[0]: unknown step 'b'",
    ]


def test_execution_id_known_at_submit_and_queueing(make_engine, captured: Captured) -> None:
    async def go() -> None:
        engine = make_engine(max_concurrent_executions=1)
        slow = wf(step("a", seconds=0.3))
        first = await engine.submit(slow, workflow_id="w", execution_number=1)
        second = await engine.submit(slow, workflow_id="w", execution_number=2)
        third = await engine.submit(slow, workflow_id="w", execution_number=3)
        assert len({first.execution_id, second.execution_id, third.execution_id}) == 3
        await until(lambda: first.status == "running", "the first execution to start")
        assert (first.status, second.status, third.status) == ("running", "pending", "pending")
        assert engine.get(second.execution_id) is second
        assert engine.cancel(third.execution_id) is True  # cancelled while queued
        r3 = await third.wait(timeout=1)
        assert r3.status == "cancelled" and [s.status for s in r3.steps] == ["cancelled"]
        r1, r2 = await first.wait(), await second.wait()
        assert (r1.status, r2.status) == ("completed", "completed")
        assert r2.started_at >= r1.ended_at  # one at a time
        assert engine.cancel("0" * 32) is False
        await engine.shutdown()

    run(go())
    queued = captured.records(c.EVENT_EXECUTION_QUEUED)
    started = captured.records(c.EVENT_EXECUTION_STARTED)
    assert len(queued) == 3 and len(started) == 2  # the cancelled one never started


def test_shutdown_cancels_running_executions(make_engine, captured: Captured) -> None:
    async def go() -> Any:
        engine = make_engine()
        handle = await engine.submit(wf(step("a", seconds=30)), workflow_id="w")
        await until(lambda: handle.status == "running", "the execution to start")
        await asyncio.wait_for(engine.shutdown(), 5)
        with pytest.raises(RuntimeError, match="shut down"):
            await engine.submit(wf(step("a")), workflow_id="w")
        return handle.result

    result = run(go())
    assert result.status == "cancelled"
    assert captured.root(result.execution_id).attributes[c.WORKFLOW_STATUS] == "cancelled"


def test_prepared_plans_are_reused(make_engine) -> None:
    async def go() -> None:
        engine = make_engine()
        definition = wf(step("a"))
        assert engine.prepare(definition) is engine.prepare(dict(definition))
        model = WorkflowDefinition.model_validate(definition)
        assert engine.prepare(model) is engine.prepare(model)
        results = await asyncio.gather(
            *[(await engine.submit(model, workflow_id="w", execution_number=i)).wait() for i in range(20)]
        )
        assert {r.status for r in results} == {"completed"}
        await engine.shutdown()

    run(go())


# --- CLI ---------------------------------------------------------------------------------


@pytest.fixture
def cli() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def _root() -> None:
        pass

    register(app)
    return app


def test_cli_validate_and_schema(cli: typer.Typer, tmp_path: Path) -> None:
    runner = CliRunner()
    ok = runner.invoke(cli, ["validate", str(example_paths()["data_pipeline"])])
    assert ok.exit_code == 0 and "OK (Data Pipeline, 7 steps)" in ok.output
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(wf(step("a", "proces"), step("b", action={"type": "shell", "params": {}}))))
    res = runner.invoke(cli, ["validate", str(bad)])
    assert res.exit_code == 1
    assert "steps[0].depends_on[0]: unknown step 'proces'" in res.output
    assert "action 'shell' is disabled" in res.output
    broken = tmp_path / "broken.json"
    broken.write_text("{nope")
    res = runner.invoke(cli, ["validate", str(broken)])
    assert res.exit_code == 1 and "invalid JSON: line 1 column 2" in res.output
    schema = runner.invoke(cli, ["schema"])
    assert json.loads(schema.output) == WorkflowDefinition.model_json_schema(by_alias=True)


def test_cli_run(cli: typer.Typer, tmp_path: Path) -> None:
    runner = CliRunner()
    res = runner.invoke(
        cli, ["run", str(example_paths()["conditional_workflow"]), "--input", "mode=fast", "--no-telemetry"]
    )
    assert res.exit_code == 0, res.output
    assert "execution id: " in res.output and "Fast Process" in res.output and "completed in" in res.output
    failing = tmp_path / "fail.json"
    failing.write_text(json.dumps(wf(step("a", action={"type": "delay", "params": {"fail_probability": 1}}))))
    res = runner.invoke(cli, ["run", str(failing), "--no-telemetry"])
    assert res.exit_code == 1 and "Step 'a' failed" in res.output
    res = runner.invoke(cli, ["run", str(example_paths()["basic_sequence"]), "-i", "batch_size=x"])
    assert res.exit_code == 2 and "not a valid integer" in res.output


def test_model_instances_keep_explicit_none_timeout(make_engine) -> None:
    model = WorkflowDefinition.model_validate(wf(step("a"), timeout_seconds=None))
    plan = make_engine().prepare(model)
    assert plan.definition.timeout_seconds is None
