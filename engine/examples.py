"""The example workflows shipped in `examples/`, and the Python steps of the data pipeline.

The data pipeline's python steps live here (not in `examples/`, which is not a
package) so that they are importable wherever the engine is, and this module is
allow-listed for the python action by default (`EngineConfig.python_modules`).
"""

from __future__ import annotations

import csv
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import duckdb

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


def validate_source(source_path: str = "", work_dir: str = "") -> dict[str, Any]:
    """Check the CSV exists and has the expected header; set up a working directory."""
    source = Path(source_path).expanduser().resolve() if source_path else DEFAULT_SOURCE
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
        work = Path(work_dir).expanduser().resolve()
        work.mkdir(parents=True, exist_ok=True)
    else:
        work = Path(tempfile.mkdtemp(prefix="flowscope-pipeline-"))
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
    con = duckdb.connect(database, read_only=True)
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


def cleanup(work_dir: str, keep_output: bool = False) -> dict[str, Any]:
    """Remove the staging database (and the whole working directory unless keep_output)."""
    work = Path(work_dir)
    if not work.name.startswith("flowscope-pipeline-") and not keep_output:
        # A user-chosen directory: only remove what the pipeline created in it.
        removed = [str(p) for p in work.glob("*.duckdb*") if p.is_file()]
        for p in removed:
            Path(p).unlink(missing_ok=True)
        return {"removed": removed, "kept": []}
    staging = [p for p in work.glob("staging.duckdb*") if p.is_file()]
    for p in staging:
        p.unlink(missing_ok=True)
    if keep_output:
        return {"removed": [str(p) for p in staging], "kept": [str(work / "warehouse.duckdb")]}
    shutil.rmtree(work, ignore_errors=True)
    return {"removed": [str(work)], "kept": []}
