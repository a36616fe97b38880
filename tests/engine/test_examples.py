"""The shipped example workflows validate and run, with the steps and names the spec lists."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from flowscope.engine.examples import example_paths, load_example
from flowscope.engine.validation import load_definition_file, validate_definition

from flowscope import conventions as c
from tests.engine.conftest import Captured, run, run_workflow

SPEC = {
    "basic_sequence": [("Initialize", []), ("Process", ["Initialize"]), ("Finalize", ["Process"])],
    "parallel_processing": [
        ("Data Preparation", []),
        ("Branch A", ["Data Preparation"]),
        ("Branch B", ["Data Preparation"]),
        ("Branch C", ["Data Preparation"]),
        ("Merge Results", ["Branch A", "Branch B", "Branch C"]),
    ],
    "conditional_workflow": [
        ("Evaluate Condition", []),
        ("Fast Process", ["Evaluate Condition"]),
        ("Standard Process", ["Evaluate Condition"]),
        ("Thorough Process", ["Evaluate Condition"]),
        ("Aggregate Results", ["Fast Process", "Standard Process", "Thorough Process"]),
    ],
    "data_pipeline": [
        ("Validate Source", []),
        ("Extract Data", ["Validate Source"]),
        ("Transform Data", ["Extract Data"]),
        ("Validate Transformation", ["Transform Data"]),
        ("Load Data", ["Validate Transformation"]),
        ("Post-Load Validation", ["Load Data"]),
        ("Cleanup", ["Post-Load Validation"]),
    ],
}


@pytest.mark.parametrize("name", list(SPEC))
def test_example_matches_spec_and_validates(name: str) -> None:
    path = example_paths()[name]
    data, problems = load_definition_file(path)
    assert problems == []
    model, problems = validate_definition(data)
    assert problems == [] and model is not None
    names = {s.id: s.display_name for s in model.steps}
    assert [(s.display_name, [names[d] for d in s.depends_on]) for s in model.steps] == SPEC[name]


@pytest.mark.parametrize("name", list(SPEC))
def test_example_runs(name: str, make_engine, captured: Captured, tmp_path: Path) -> None:
    path = example_paths()[name]
    engine = make_engine(sandbox_dir=tmp_path)
    result = run(run_workflow(engine, load_example(name), workflow_id=name, base_dir=path.parent))
    assert result.status == "completed", [(s.id, s.error) for s in result.steps]
    root = captured.root(result.execution_id)
    assert root.name == f"RUN {load_example(name)['name']}"
    assert root.attributes[c.WORKFLOW_STATUS] == "completed"
    step_names = {s.name for s in captured.step_spans(result.execution_id).values()}
    assert step_names == {n for n, _ in SPEC[name]}
    if name == "data_pipeline":  # its cleanup left nothing behind in the sandbox
        assert list((tmp_path / "workspaces" / "default" / "pipelines").iterdir()) == []


@pytest.mark.parametrize(
    ("mode", "ran"),
    [("fast", "fast_process"), ("standard", "standard_process"), ("thorough", "thorough_process")],
)
def test_conditional_modes(mode: str, ran: str, make_engine) -> None:
    result = run(run_workflow(make_engine(), load_example("conditional_workflow"), {"mode": mode}))
    branches = {"fast_process", "standard_process", "thorough_process"}
    assert result.step(ran).status == "completed"
    for other in branches - {ran}:
        assert result.step(other).status == "skipped"
        assert result.step(other).skip_reason.startswith("condition is false: mode == ")
    aggregate = result.step("aggregate_results")
    assert aggregate.status == "completed"
    assert aggregate.output == {"mode": mode, "quality": result.step(ran).output["quality"]}


def test_data_pipeline_loads_duckdb_and_cleans_up(make_engine, tmp_path: Path) -> None:
    work = tmp_path / "workspaces" / "default" / "pipelines" / "work"  # work_dir is taken in there
    result = run(
        run_workflow(
            make_engine(sandbox_dir=tmp_path),
            load_example("data_pipeline"),
            {"work_dir": "work", "keep_output": True, "min_amount": 10},
        )
    )
    assert result.status == "completed", [(s.id, s.error) for s in result.steps]
    transform = result.step("transform_data").output["rows"][0]
    assert transform["raw_rows"] == 60 and transform["rejected_rows"] >= 5
    loaded = result.step("post_load_validation").output["rows"][0]
    assert loaded["orders"] == transform["clean_rows"]
    warehouse = work / "warehouse.duckdb"
    assert warehouse.exists() and not (work / "staging.duckdb").exists()
    assert result.step("cleanup").output["kept"] == [str(warehouse)]
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        assert con.execute("SELECT min(amount) > 10, count(*) FROM orders").fetchone() == (
            True,
            loaded["orders"],
        )
    finally:
        con.close()


def test_data_pipeline_bad_source_fails_early_and_skips_cleanup(make_engine, tmp_path: Path) -> None:
    engine = make_engine(sandbox_dir=tmp_path)
    inputs = {"source_path": str(tmp_path / "workspaces" / "default" / "no.csv")}
    result = run(run_workflow(engine, load_example("data_pipeline"), inputs))
    assert (result.status, result.error) == ("failed", "Step 'validate_source' failed")
    assert result.step("validate_source").error.startswith("source file not found")
    assert result.step("extract_data").skip_reason == "upstream failed"
    assert (
        result.step("cleanup").skip_reason
        == "condition is false: steps.validate_source.status == 'completed'"
    )
