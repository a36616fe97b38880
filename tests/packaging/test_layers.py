"""The layering contracts of pyproject.toml ([tool.importlinter]) hold: a lower layer never
imports a higher one, the engine imports no collector/storage/api, and only the storage
layer (and the engine's `sql` action) imports duckdb."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.packaging.layout import PYPROJECT, link_tree

LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def test_import_contracts_are_kept(tmp_path: Path) -> None:
    # import-linter finds `flowscope` on sys.path and walks its folder: run it on a tree laid
    # out as installed (the editable install maps api/, collector/, ... without such a folder),
    # from that tree, so the repository's own flowscope/ folder cannot stand in for it.
    tree = link_tree(tmp_path)
    done = subprocess.run(
        [str(LINT_IMPORTS), str(PYPROJECT), "--no-cache"],
        cwd=tree, env={**os.environ, "PYTHONPATH": str(tree)},
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    kept = re.search(r"Contracts: (\d+) kept, 0 broken", done.stdout)
    assert kept and int(kept.group(1)) >= 3, done.stdout  # the contracts were read and checked
