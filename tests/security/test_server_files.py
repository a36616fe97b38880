"""Issue 15 finding 2: no step action touches the server's own files.

The probe deleted the database and its WAL with `engine.examples:cleanup` and
`{"work_dir": <the database's directory>}` (after a restart the catalog was empty and every
token gone); `validate_source` created directories anywhere and told whether a file
exists; `check_transformation` opened any path. As an editor of a real `serve --auth
token`, each is now refused: the helpers act only in their work area (`pipelines/` in the
workspace's part of the sandbox), the database and WAL survive, and after a restart the
catalog and the editor's token are still there. Another workspace's editor cannot reach
that work area either. The shipped data pipeline still runs end to end and leaves nothing
behind.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
from flowscope.engine.examples import load_example

from tests.api.client import Api
from tests.security.editor import editor_server, python_step, run_steps, step_output
from tests.support.server import start_server


def test_pipeline_helpers_stay_in_their_work_area(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    db = state / "flowscope.duckdb"
    wal = state / "flowscope.duckdb.wal"
    secret = state / "secret.txt"
    secret.write_text("not for editors")
    outside = tmp_path / "made-by-editor"
    with editor_server(db) as (_server, editor, other):
        api = editor.api
        pipelines = state / "flowscope.duckdb.sandbox" / "workspaces" / editor.workspace_id / "pipelines"
        # The shipped example, as the demo runs it (default inputs): completes, cleans up.
        pipeline_id, pipeline = run_steps(api, load_example("data_pipeline"), timeout=120)
        assert {s["status"] for s in pipeline.values()} == {"completed"}, pipeline
        assert list(pipelines.iterdir()) == []
        assert wal.exists() and db.exists()
        files_before = {p.name: p.stat().st_size > 0 for p in state.iterdir()}

        # A planted database whose view reads a file outside: the helper's connection is
        # confined like the sql action's (tests plant it; SQL cannot write one with that view).
        planted = pipelines / "planted"
        planted.mkdir()
        con = duckdb.connect(str(planted / "staging.duckdb"))
        con.execute(f"CREATE VIEW orders_clean AS SELECT 1 AS order_id, content FROM read_text('{secret}')")
        con.close()
        (pipelines / "escape").symlink_to(state, target_is_directory=True)

        attacks = {
            "cleanup_db_dir": ("cleanup", {"work_dir": str(state)}, "is outside"),
            "cleanup_relative": ("cleanup", {"work_dir": "../.."}, "must not contain '..'"),
            "cleanup_symlink": ("cleanup", {"work_dir": "escape"}, "is outside"),
            "cleanup_work_root": ("cleanup", {"work_dir": str(pipelines)}, "not the work area itself"),
            "mkdir_outside": ("validate_source", {"work_dir": str(outside)}, "is outside"),
            "probe_existing": ("validate_source", {"source_path": str(secret)}, "is outside"),
            "probe_missing": ("validate_source", {"source_path": str(state / "missing.csv")}, "is outside"),
            "read_db": ("check_transformation", {"database": str(db), "expected_rows": 0}, "is outside"),
            "read_via_symlink": (
                "check_transformation",
                {"database": "escape/flowscope.duckdb", "expected_rows": 0},
                "is outside",
            ),
            "planted_view": (
                "check_transformation",
                {"database": str(planted / "staging.duckdb"), "expected_rows": 1},
                "Permission Error",
            ),
            "load_into_db": (
                "load_warehouse",
                {"staging_db": str(planted / "staging.duckdb"), "warehouse_db": str(db)},
                "is outside",
            ),
            "load_from_db": (
                "load_warehouse",
                {"staging_db": str(db), "warehouse_db": str(planted / "warehouse.duckdb")},
                "is outside",
            ),
            "load_planted_view": (  # the staging file is ATTACHed to a confined connection
                "load_warehouse",
                {"staging_db": str(planted / "staging.duckdb"), "warehouse_db": str(planted / "w.duckdb")},
                "Permission Error",
            ),
        }
        steps = [
            {**python_step(sid, f"flowscope.engine.examples:{fn}", **kwargs), "trigger_rule": "all_done"}
            for sid, (fn, kwargs, _) in attacks.items()
        ]
        execution_id, timeline = run_steps(api, {"name": "helpers", "steps": steps})
        outputs = {sid: step_output(api, execution_id, sid) for sid in timeline}
        print("\n[server files] pipeline helper | status | error")
        for sid, (_, _, fragment) in attacks.items():
            step = timeline[sid]
            print(f"  {sid:18} {step['status']:7} {(step['error_message'] or '')[:90]}")
            assert step["status"] == "failed", (sid, step)
            assert fragment in step["error_message"], (sid, step["error_message"])
        # Existing and missing files outside answer alike: no existence oracle.
        assert timeline["probe_existing"]["error_message"].replace(str(secret), "X") == timeline[
            "probe_missing"
        ]["error_message"].replace(str(state / "missing.csv"), "X")
        assert "not for editors" not in repr(outputs)
        assert not outside.exists()
        assert {p.name: p.stat().st_size > 0 for p in state.iterdir()} == files_before
        assert step_output(api, pipeline_id, "cleanup")["removed"]

        # Another workspace's editor, on this workspace's kept pipeline output.
        inputs = {"work_dir": "kept", "keep_output": True}
        _, kept = run_steps(api, load_example("data_pipeline"), inputs, timeout=120)
        assert kept["cleanup"]["status"] == "completed", kept
        warehouse = pipelines / "kept" / "warehouse.duckdb"
        foreign = [
            python_step("cleanup", "flowscope.engine.examples:cleanup", work_dir=str(warehouse.parent)),
            python_step(
                "check",
                "flowscope.engine.examples:check_transformation",
                database=str(warehouse),
                expected_rows=1,
            ),
            python_step("source", "flowscope.engine.examples:validate_source", source_path=str(warehouse)),
        ]
        _, cross = run_steps(
            other.api, {"name": "cross", "steps": [{**s, "trigger_rule": "all_done"} for s in foreign]}
        )
        for sid, step in cross.items():
            print(f"  other workspace: {sid:8} {step['status']:7} {(step['error_message'] or '')[:80]}")
            assert step["status"] == "failed" and "is outside" in step["error_message"], (sid, step)
        assert warehouse.is_file()
        headers = api.headers

    # After a restart the catalog and the editor's token are still there.
    server = start_server(db, "--auth", "token")
    try:
        again = Api(server.api, headers)
        names = {w["name"] for w in again.ok(again.get("/api/workflows"))["items"]}
        assert names >= {"Data Pipeline", "helpers"}, names
    finally:
        server.terminate()
