"""Issue 15 finding 3: the `sql` action's DuckDB can reach only the server's private sandbox
directory (`<db>.sandbox/` by default), and there only its workspace's part, in both
`read_only` modes.

The probe ran with the server's database in the system temp directory, which the old
default sandbox (the temp dir + `examples/`) included: `read_blob('<db path>*')` read the
catalog and token hashes out of the database and its WAL, `read_text` read a saved admin
token, `COPY ... TO` wrote there, and the shipped examples were writable. Each of those is
now refused as an editor through a real `serve --auth token`, as are what already held
(system files, INSTALL, LOAD, SET, ATTACH of the live database); work inside the sandbox
still works. A sandbox that would expose the server's files stops `serve` with one line.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

from flowscope.engine.examples import DATA_DIR

from tests.security.editor import ROOT, editor_server, run_steps, sql_step, step_output

MARKER = "marker-7f3c9e"  # a workflow name: it lives in the database and its WAL


def _attacks(db: Path, token_file: Path, outside: Path) -> dict[str, tuple[str, str]]:
    """step id -> (sql, text its error must contain); each runs in both read_only modes."""
    denied = "file system operations are disabled by configuration"
    return {
        "read_blob_db": (
            f"SELECT regexp_extract(content::VARCHAR, '{MARKER}') AS m FROM read_blob('{db}*')",
            denied,
        ),
        "read_text_token": (f"SELECT content FROM read_text('{token_file}')", denied),
        "glob_temp": (f"SELECT count(*) FROM glob('{db.parent}/*')", denied),
        "relative_escape": (
            f"SELECT content FROM read_text('{db.parent}/{db.name}.sandbox/../{token_file.name}')",
            denied,
        ),
        "copy_to_outside": (f"COPY (SELECT 1 AS x) TO '{outside}'", ""),
        "copy_to_examples": (f"COPY (SELECT 1 AS x) TO '{DATA_DIR / 'pwned.csv'}'", ""),
        "system_file": ("SELECT * FROM read_csv('/etc/passwd')", denied),
        # (DuckDB may answer "already attached" before the permission check: refused either way)
        "attach_live_db": (f"ATTACH '{db}' AS live (READ_ONLY)", ""),
        "install": ("INSTALL httpfs", ""),
        "load": ("LOAD httpfs", ""),
        "set_external_access": ("SET enable_external_access = true", "locked"),
    }


def test_sql_reaches_only_the_sandbox_in_both_read_only_modes(tmp_path: Path) -> None:
    db = tmp_path / "flowscope.duckdb"  # under the system temp dir, as in the probe
    token_file = tmp_path / "admin.token"
    token_file.write_text("fst_saved_admin_token\n")
    outside = tmp_path / "written.csv"
    sandbox = tmp_path / "flowscope.duckdb.sandbox"
    attacks = _attacks(db, token_file, outside)
    with editor_server(db) as (_server, editor, other):
        api = editor.api
        files = sandbox / "workspaces" / editor.workspace_id  # this workspace's part of it
        assert stat.S_IMODE(sandbox.stat().st_mode) == 0o700
        api.create_workflow({"name": MARKER, "steps": [sql_step("noop", ":memory:", "SELECT 1")]})
        csv = files / "inside.csv"
        inside = f"SELECT n, (SELECT count(*) FROM read_csv('{csv}')) AS csv_rows FROM t"
        steps: list[dict[str, Any]] = [
            # read_only needs a database file: make one in the sandbox (a relative path lands there).
            sql_step("setup", "mine.duckdb", ["CREATE TABLE t AS SELECT 42 AS n", f"COPY t TO '{csv}'"]),
            {**sql_step("inside_ro", "mine.duckdb", inside, read_only=True), "depends_on": ["setup"]},
            sql_step("live_db_rw", str(db), "SELECT 1"),
            sql_step("live_db_ro", str(db), "SELECT 1", read_only=True),
            sql_step("dotdot_db", "../flowscope.duckdb", "SELECT 1"),
        ]
        for sid, (sql, _) in attacks.items():
            steps.append(sql_step(f"{sid}__rw", ":memory:", sql))
            steps.append(
                {**sql_step(f"{sid}__ro", "mine.duckdb", sql, read_only=True), "depends_on": ["setup"]}
            )
        execution_id, timeline = run_steps(api, {"name": "sql-sandbox", "steps": steps}, timeout=120)
        outputs = {sid: step_output(api, execution_id, sid) for sid in timeline}
        # Another workspace's editor: its own part of the sandbox, none of this one's files.
        theirs = [
            sql_step("read_csv", ":memory:", f"SELECT * FROM read_csv('{csv}')"),
            sql_step("attach", ":memory:", f"ATTACH '{files / 'mine.duckdb'}' AS a (READ_ONLY)"),
            sql_step("open_rw", str(files / "mine.duckdb"), "SELECT * FROM t"),
            sql_step("open_ro", str(files / "mine.duckdb"), "SELECT * FROM t", read_only=True),
            sql_step("same_name", "mine.duckdb", "SELECT * FROM t"),  # its own, empty database
        ]
        _, cross = run_steps(other.api, {"name": "cross", "steps": theirs})

    assert timeline["setup"]["status"] == "completed", timeline["setup"]
    assert outputs["inside_ro"]["rows"] == [{"n": 42, "csv_rows": 1}]
    assert outputs["inside_ro"]["database"] == str(files / "mine.duckdb")
    for sid in ("live_db_rw", "live_db_ro", "dotdot_db"):
        assert timeline[sid]["status"] == "failed", timeline[sid]
        assert "database '" in timeline[sid]["error_message"], timeline[sid]
    print(f"\n[sql sandbox] database {db}, sandbox {sandbox}")
    for sid, (_, fragment) in attacks.items():
        for mode in ("rw", "ro"):
            step = timeline[f"{sid}__{mode}"]
            print(f"  {sid:20} {mode} {step['status']:7} {(step['error_message'] or '')[:80]}")
            assert step["status"] == "failed", (sid, mode, step)
            assert fragment in step["error_message"], (sid, mode, step["error_message"])
    assert MARKER not in repr(outputs), "the catalog was read through SQL"
    assert "fst_saved_admin_token" not in repr(outputs)
    assert not outside.exists() and not (DATA_DIR / "pwned.csv").exists()
    print("  another workspace:")
    for sid, step in cross.items():
        print(f"  {sid:20}    {step['status']:7} {(step['error_message'] or '')[:80]}")
        assert step["status"] == "failed", (sid, step)
    assert "Table with name t does not exist" in cross["same_name"]["error_message"]
    assert (
        "is outside" in cross["open_rw"]["error_message"]
        and "is outside" in cross["open_ro"]["error_message"]
    )


def _serve_refused(db: Path, sandbox: Path) -> str:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "flowscope",
            "serve",
            "--api-port",
            "0",
            "--otlp-http-port",
            "0",
            "--otlp-grpc-port",
            "0",
            "--db",
            str(db),
            "--sandbox-dir",
            str(sandbox),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("flowscope: sandbox directory"), done.stderr
    return lines[0]


def test_serve_refuses_a_sandbox_that_exposes_the_server_or_other_users(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    db = state / "flowscope.duckdb"
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    os.chmod(shared, 0o755)
    cases = {
        "the database's directory": (state, "contains the database"),
        "an ancestor of it": (tmp_path, "contains the database"),
        "the system temp dir": (Path("/tmp"), "contains" if db.is_relative_to("/tmp") else "other users"),
        "the WAL's path": (state / "flowscope.duckdb.wal", "database's own files"),
        "a directory others can read": (shared, "open to other users (mode 0755)"),
    }
    for name, (sandbox, fragment) in cases.items():
        line = _serve_refused(db, sandbox)
        print(f"  {name:28} {line}")
        assert fragment in line, (name, line)
    assert not db.exists(), "serve opened the database before refusing"
