"""The example workflows shipped in `examples/`, and the Python steps of the data pipeline.

The data pipeline's python steps live here (not in `examples/`, which is not a
package) so that they are importable wherever the engine is, and this module is
allow-listed for the python action by default (`EngineConfig.python_modules`): every
public function here can be called by any editor, with any arguments.

So the pipeline helpers act only inside a work area they own: `pipelines/` in the step's
workspace's part of the sandbox (EngineConfig.sandbox_dir, engine.sandbox_dir). Paths a
definition gives are resolved and must stay in it (`engine.sandbox_dir.confine`); a source
CSV may be read from the shipped `examples/data/` or that part of the sandbox, and the
shipped one is copied into the run's work directory, since SQL can reach only the sandbox.
Cleanup removes only the files the pipeline creates. With `unrestricted_files` (the CLI,
the user's own files) paths are taken as given.
"""

from __future__ import annotations

import csv
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from flowscope.engine.actions.python import current_step
from flowscope.engine.actions.registry import StepContext
from flowscope.engine.actions.sql import connect_confined, sql_string
from flowscope.engine.sandbox_dir import confine, workspace_dir

EXAMPLES_DIR = Path(__file__).resolve().parent.parent / "examples"
WORKFLOWS_DIR = EXAMPLES_DIR / "workflows"
DATA_DIR = EXAMPLES_DIR / "data"
EXAMPLE_NAMES = ("basic_sequence", "parallel_processing", "conditional_workflow", "data_pipeline")
DEFAULT_SOURCE = DATA_DIR / "orders.csv"
REQUIRED_COLUMNS = ("order_id", "customer", "region", "order_date", "amount", "status")


def example_paths() -> dict[str, Path]:
    """Example name -> workflow file, in the order the spec lists them."""
    return {name: WORKFLOWS_DIR / f"{name}.json" for name in EXAMPLE_NAMES}


def load_example(name: str) -> dict[str, Any]:
    return json.loads(example_paths()[name].read_text(encoding="utf-8"))


# --- data_pipeline steps ---------------------------------------------------------------

PIPELINES_DIR = "pipelines"  # the helpers' work area, in the workspace's part of the sandbox
SOURCE_COPY = "source.csv"
# Everything the pipeline creates in a work directory, and all cleanup ever removes.
PIPELINE_FILES = (
    SOURCE_COPY, "staging.duckdb", "staging.duckdb.wal", "warehouse.duckdb", "warehouse.duckdb.wal",
)  # fmt: skip
_RUN_PREFIX = "flowscope-pipeline-"


def _step() -> StepContext:
    step = current_step()
    if step is None:
        raise RuntimeError("the pipeline helpers run as python steps of a workflow")
    return step


def _files(step: StepContext) -> Path:
    """The step's workspace's part of the sandbox; ValueError without a sandbox."""
    if step.config.sandbox_dir is None:
        raise ValueError("no sandbox directory is configured (EngineConfig.sandbox_dir)")
    return workspace_dir(step.config.sandbox_dir, step.workspace_id)


def _work_root(step: StepContext) -> Path:
    """`<workspace's sandbox>/pipelines`, created private."""
    root = _files(step) / PIPELINES_DIR
    root.mkdir(mode=0o700, exist_ok=True)
    return root


def _inside_root(raw: str, step: StepContext, what: str) -> Path:
    """A path in the work area (not the area itself), or the path as given when unrestricted."""
    if step.config.unrestricted_files:
        return Path(raw).expanduser().resolve()
    root = _work_root(step)
    path = confine(raw, root, what=what)
    if path == root:
        raise PermissionError(f"{what} '{raw}' must be a directory inside {root}, not the work area itself")
    return path


def _source(raw: str, step: StepContext) -> Path:
    if not raw:
        return DEFAULT_SOURCE
    if step.config.unrestricted_files:
        return Path(raw).expanduser().resolve()
    return confine(raw, _files(step), what="source_path", also=(DATA_DIR,))


def validate_source(source_path: str = "", work_dir: str = "") -> dict[str, Any]:
    """Check the CSV exists and has the expected header; set up a working directory."""
    step = _step()
    source = _source(source_path, step)  # refused before anything touches the path
    if not source.is_file():
        raise FileNotFoundError(f"source file not found: {source}")
    with source.open(newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = [h.strip() for h in next(reader, [])]
        rows = sum(1 for _ in reader)
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise ValueError(f"source is missing columns: {', '.join(missing)}")
    if rows == 0:
        raise ValueError("source has no data rows")
    if work_dir:
        work = _inside_root(work_dir, step, "work_dir")
        work.mkdir(mode=0o700, parents=True, exist_ok=True)
    elif step.config.unrestricted_files:
        work = Path(tempfile.mkdtemp(prefix=_RUN_PREFIX))
    else:
        work = Path(tempfile.mkdtemp(prefix=_RUN_PREFIX, dir=_work_root(step)))
    if not step.config.unrestricted_files and source.is_relative_to(DATA_DIR):
        # Shipped example data: SQL can read only the sandbox, so it reads a copy.
        source = Path(shutil.copyfile(source, work / SOURCE_COPY))
    return {
        "source_path": str(source),
        "work_dir": str(work),
        "staging_db": str(work / "staging.duckdb"),
        "warehouse_db": str(work / "warehouse.duckdb"),
        "row_count": rows,
        "columns": header,
    }


def check_transformation(database: str, expected_rows: int) -> dict[str, Any]:
    """Quality checks on the cleaned table; raise (fail the step) when one does not hold."""
    step = _step()
    path = _inside_root(database, step, "database")
    if not path.is_file():
        raise FileNotFoundError(f"database not found: {path}")
    con = connect_confined(str(path), step, read_only=True)  # its views run SQL too
    try:
        checks = {
            "row_count": "SELECT count(*) FROM orders_clean",
            "null_keys": "SELECT count(*) FROM orders_clean WHERE order_id IS NULL OR order_date IS NULL",
            "duplicate_ids": "SELECT count(*) - count(DISTINCT order_id) FROM orders_clean",
            "non_positive_amounts": "SELECT count(*) FROM orders_clean WHERE amount <= 0",
            "unknown_regions": "SELECT count(*) FROM orders_clean "
            "WHERE region NOT IN ('NORTH', 'SOUTH', 'EAST', 'WEST')",
        }
        found = {name: int(con.execute(sql).fetchone()[0]) for name, sql in checks.items()}  # type: ignore[index]
    finally:
        con.close()
    problems = [f"{k}={v}" for k, v in found.items() if k != "row_count" and v]
    if found["row_count"] != expected_rows:
        problems.append(f"row_count={found['row_count']} (expected {expected_rows})")
    if problems:
        raise ValueError("transformation checks failed: " + ", ".join(problems))
    return {"checks_passed": len(checks), **found}


def load_warehouse(staging_db: str, warehouse_db: str) -> dict[str, Any]:
    """Copy the cleaned tables from the staging database into the warehouse database.

    A python step, not a `sql` one: the staging file must be ATTACHed, and DuckDB 1.5's
    ATTACH takes its path only as a literal, not as a bound `$parameter` (the sql action
    never splices values into SQL text). Here the path is confined first, then quoted."""
    step = _step()
    staging = _inside_root(staging_db, step, "staging_db")
    if not staging.is_file():
        raise FileNotFoundError(f"database not found: {staging}")
    con = connect_confined(str(_inside_root(warehouse_db, step, "warehouse_db")), step, read_only=False)
    try:
        con.execute(f"ATTACH {sql_string(str(staging))} AS staging (READ_ONLY)")
        con.execute("CREATE OR REPLACE TABLE orders AS SELECT * FROM staging.orders_clean")
        con.execute("CREATE OR REPLACE TABLE daily_revenue AS SELECT * FROM staging.daily_revenue")
        con.execute("DETACH staging")
        loaded = int(con.execute("SELECT count(*) FROM orders").fetchone()[0])  # type: ignore[index]
    finally:
        con.close()
    return {"loaded_rows": loaded}


def cleanup(work_dir: str, keep_output: bool = False) -> dict[str, Any]:
    """Remove the files the pipeline created in `work_dir` (the warehouse too unless
    keep_output), then the directory itself if nothing else is left in it."""
    step = _step()
    work = _inside_root(work_dir, step, "work_dir")
    if not work.is_dir():
        raise FileNotFoundError(f"work directory not found: {work}")
    keep = {"warehouse.duckdb", "warehouse.duckdb.wal"} if keep_output else set()
    removed = []
    for name in PIPELINE_FILES:
        path = work / name
        if name not in keep and path.is_file():
            path.unlink()
            removed.append(str(path))
    if not any(work.iterdir()):
        work.rmdir()
        removed.append(str(work))
    return {"removed": removed, "kept": [str(work / n) for n in sorted(keep) if (work / n).exists()]}
