"""The wheel carries the web UI, the vendored API docs and the API's SQL, so an installed
Flowscope serves every page offline."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from flowscope.api.webui import STATIC_DIR

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(300)
def test_the_wheel_contains_the_ui_and_the_docs(tmp_path: Path) -> None:
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(tmp_path), str(ROOT)],
        capture_output=True, text=True, timeout=280,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr[-3000:]
    (wheel,) = tmp_path.glob("flowscope-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    manifest = json.loads((STATIC_DIR / "build-manifest.json").read_text(encoding="utf-8"))
    missing = sorted(f for f in manifest["output"] if f"api/ui_static/{f}" not in names)
    assert not missing, f"not in the wheel: {missing}"
    sql = {p.name for p in (ROOT / "api" / "sql").glob("*.sql")}
    assert sql <= {Path(n).name for n in names if n.startswith("api/sql/")}
