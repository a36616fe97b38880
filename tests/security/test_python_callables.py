"""Issue 15 finding 1: the `python` action calls only functions defined in an allowed module
itself (or registered). The probe's attacks, as an editor through the REST API of a real
`serve --auth token`: `engine.examples:shutil.os.system` ran commands as the server's user,
`...:shutil.os.environ.copy` returned its environment, `...:shutil.copyfile` copied any file.
Each is refused at create and update time (422 naming the parameter) and, when the callable
only becomes known at run time through a template, when the step runs; nothing executes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.security.editor import editor_server, python_step, run_steps, step_output

CALLABLE_LOC = ["body", "definition", "steps", 0, "action", "params", "callable"]


def _attacks(tmp_path: Path, db: Path) -> dict[str, tuple[str, dict[str, Any]]]:
    return {
        "os_system": (
            "flowscope.engine.examples:shutil.os.system",
            {"command": f"id > {tmp_path / 'pwned'}"},
        ),
        "environ": ("flowscope.engine.examples:shutil.os.environ.copy", {}),
        # The module path definitions used before the code moved under `flowscope`.
        "moved_module": ("engine.examples:shutil.os.system", {"command": f"id > {tmp_path / 'pwned'}"}),
        "copyfile": (
            "flowscope.engine.examples:shutil.copyfile",
            {"src": str(db), "dst": str(tmp_path / "copy")},
        ),
        "module_object": ("flowscope.engine.examples:shutil", {}),
        "class": ("flowscope.engine.examples:Path", {"args": "/"}),
        "imported_module": ("os:system", {"command": f"id > {tmp_path / 'pwned'}"}),
    }


def test_python_callables_outside_allowed_functions_are_refused(tmp_path: Path) -> None:
    db = tmp_path / "flowscope.duckdb"
    attacks = _attacks(tmp_path, db)
    print("\n[python callables] create/update as an editor")
    with editor_server(db) as (_server, editor, _):
        api = editor.api
        control = python_step("ok", "flowscope.engine.examples:load_example", name="basic_sequence")
        benign = api.create_workflow({"name": "benign", "steps": [control]})
        for name, (ref, kwargs) in attacks.items():
            definition = {"name": name, "steps": [python_step("attack", ref, **kwargs)]}
            created = api.post("/api/workflows", json={"definition": definition})
            updated = api.put(f"/api/workflows/{benign['id']}", json={"definition": definition})
            for response in (created, updated):
                assert response.status_code == 422, (name, response.status_code, response.text)
                detail = response.json()["detail"]
                assert [d["loc"] for d in detail] == [CALLABLE_LOC], (name, detail)
                assert detail[0]["location"] == "steps[0].action.params.callable"
                assert ref.partition(":")[0] in detail[0]["msg"], detail
            print(f"  {name:16} {ref:40} 422 {detail[0]['msg'][:70]}")

        # The same path through a 'module:function' action type (same resolver): 422 at its type.
        as_type = {"name": "as-type", "steps": [{"id": "attack", "action": {
            "type": "flowscope.engine.examples:shutil.os.system", "params": {"command": "id"}}}]}  # fmt: skip
        response = api.post("/api/workflows", json={"definition": as_type})
        assert response.status_code == 422, response.text
        assert [d["loc"][-2:] for d in response.json()["detail"]] == [["action", "type"]], response.text

        # The same references arriving through an input: refused when the step runs.
        templated = {"name": "templated", "inputs": {"fn": {"type": "string"}, "kw": {"type": "object"}},
                     "steps": [python_step("attack", "${{ fn }}")]}  # fmt: skip
        templated["steps"][0]["action"]["params"]["kwargs"] = "${{ kw }}"
        workflow = api.create_workflow(templated)
        for name, (ref, kwargs) in attacks.items():
            done = api.wait(api.execute(workflow["id"], {"fn": ref, "kw": kwargs})["id"], timeout=30)
            step = api.ok(api.get(f"/api/workflows/executions/{done['id']}/steps/attack"))
            assert (done["status"], step["status"]) == ("failed", "failed"), (name, step)
            assert step["output_data"] is None, (name, step["output_data"])
            assert ref in step["error_message"] or "not allowed" in step["error_message"], step
        # The workflow stored before the update still runs (the 422s changed nothing).
        execution_id, steps = run_steps(api, {"name": "control", "steps": [control]})
        assert steps["ok"]["status"] == "completed", steps
        assert step_output(api, execution_id, "ok")["name"] == "Basic Sequence"
        # Definitions stored before the move name `engine.examples`: they still run.
        legacy = python_step("old", "engine.examples:load_example", name="basic_sequence")
        execution_id, steps = run_steps(api, {"name": "legacy", "steps": [legacy]})
        assert steps["old"]["status"] == "completed", steps
        assert step_output(api, execution_id, "old")["name"] == "Basic Sequence"
        assert api.ok(api.get(f"/api/workflows/{benign['id']}"))["version"] == 1
    assert not (tmp_path / "pwned").exists(), "a command ran"
    assert not (tmp_path / "copy").exists(), "a file was copied"
