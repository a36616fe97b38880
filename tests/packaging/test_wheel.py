"""The wheel holds everything `flowscope` needs at run time, under the one name `flowscope`:
built from the sources, installed (not editable) with the locked dependencies into a fresh
venv that cannot see the repository, its `flowscope serve --demo` runs the examples and
answers a completed execution's timeline."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.packaging.layout import (
    CONSTRAINTS,
    PYPROJECT,
    REPO,
    installed_path,
    listed_packages,
    package_dirs,
    package_folders,
    pyproject,
    source_of,
)
from tests.support.server import RunningServer, start_server

# The dependencies' wheels, kept between runs: a fresh venv installs from here without the
# network (about 20 s instead of 100 s of downloads); filled from the index when a pin changes.
WHEELHOUSE = Path(
    os.environ.get("FLOWSCOPE_TEST_WHEELHOUSE", Path.home() / ".cache" / "flowscope" / "test-wheelhouse")
)


def _run(
    *cmd: str | Path, timeout: float = 600, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    args = [str(c) for c in cmd]
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, cwd=cwd, env=env)


def _check(done: subprocess.CompletedProcess[str]) -> None:
    assert done.returncode == 0, f"{' '.join(done.args)}\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`pip wheel` of a copy of the sources: an in-tree build reuses build/, whose leftovers
    (modules deleted since) would land in the wheel, and concurrent builds would share it."""
    src = tmp_path_factory.mktemp("src")
    shutil.copy2(PYPROJECT, src)
    shutil.copy2(REPO / pyproject()["project"]["readme"], src)
    skipped = shutil.ignore_patterns("__pycache__", "*.so")  # the build compiles its own
    for folder in package_dirs().values():
        shutil.copytree(folder, src / folder.relative_to(REPO), ignore=skipped)
    dist = tmp_path_factory.mktemp("dist")
    _check(_run(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", dist, src))
    (built,) = dist.glob("flowscope-*.whl")
    return built


def test_every_package_folder_is_listed() -> None:
    """A folder with an __init__.py that pyproject's `packages` does not list is left out of the
    wheel: the editable install still imports it, the installed package fails."""
    found = package_folders()
    missing = sorted(set(found) - listed_packages())
    assert not missing, f"add to [tool.setuptools] packages in pyproject.toml: {missing}"
    gone = sorted(p for p in listed_packages() if not source_of(p).is_dir())
    assert not gone, f"listed in pyproject.toml, no such folder: {gone}"


def test_wheel_holds_every_module_and_data_file(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    top = {name.split("/", 1)[0] for name in names}
    assert {t for t in top if not t.endswith(".dist-info")} == {"flowscope"}, sorted(top)
    needed = [m for p in listed_packages() for m in source_of(p).glob("*.py")]
    for folder in package_dirs().values():
        needed += folder.rglob("*.sql")
    needed += (package_dirs()["flowscope.api"] / "ui_static").rglob("*")
    needed += package_dirs()["flowscope.examples"].rglob("*")
    wanted = {installed_path(f) for f in needed if f.is_file() and "__pycache__" not in f.parts}
    assert not wanted - names, sorted(wanted - names)
    assert any(n.endswith(".sql") for n in wanted) and any("/ui_static/" in n for n in wanted)
    compiled = [n for n in names if n.startswith("flowscope/storage/_wire_walk.") and n.endswith(".so")]
    assert compiled, "the wheel lacks the compiled walk (storage/_wire_walk.c)"


@pytest.fixture(scope="module")
def fresh_venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new venv with the wheel installed the way a user does, pinned by constraints.txt."""
    venv = tmp_path_factory.mktemp("venv")
    _check(_run(sys.executable, "-m", "venv", "--without-pip", venv))
    python = venv / "bin" / "python"
    # This process' pip installs into the new venv (--python): no pip bootstrap in it. --no-compile:
    # the server compiles what it imports; byte-compiling all of pyarrow and grpc costs 15 s.
    install = (sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-compile")
    offline = (*install, "--no-index", "--find-links", WHEELHOUSE, "-c", CONSTRAINTS, wheel)
    if _run(*offline).returncode != 0:  # a first run, or a pin changed since the last
        deps = pyproject()["project"]["dependencies"]
        download = (sys.executable, "-m", "pip", "download", "-q", "-d", WHEELHOUSE, "-c", CONSTRAINTS)
        _check(_run(*download, *deps))
        _check(_run(*offline))
    return venv


@pytest.fixture
def installed_server(fresh_venv: Path, tmp_path: Path) -> Iterator[RunningServer]:
    # From a folder outside the repository with the venv's own console script: nothing of the
    # repository (its folders, the editable install) is on that process' path.
    env = {"PYTHONPATH": ""}
    where = _run(
        fresh_venv / "bin" / "python", "-c", "import flowscope.api, duckdb; print(flowscope.api.__file__)",
        cwd=tmp_path, env={**os.environ, **env}, timeout=120,
    )  # fmt: skip
    _check(where)
    assert Path(where.stdout.strip()).is_relative_to(fresh_venv), where.stdout
    program = (str(fresh_venv / "bin" / "flowscope"),)
    srv = start_server(tmp_path / "flowscope.duckdb", "--demo", program=program, cwd=tmp_path, env=env)
    yield srv
    srv.terminate()


@pytest.mark.timeout(900)  # a first run downloads the dependencies (about 100 s); later ones about 60 s
def test_installed_wheel_serves_the_demo(installed_server: RunningServer) -> None:
    workflows = installed_server.get("/api/workflows").json()["items"]
    assert workflows, installed_server.log  # the examples were found and seeded
    deadline = time.monotonic() + 90
    completed: list[dict[str, object]] = []
    while not completed:
        assert time.monotonic() < deadline, "no completed execution\n" + installed_server.log
        time.sleep(0.5)
        for workflow in workflows:
            path = f"/api/workflows/{workflow['id']}/executions?status=completed&limit=1"
            completed += installed_server.get(path).json()["items"]
    response = installed_server.get(f"/api/workflows/executions/{completed[0]['id']}/timeline")
    assert response.status_code == 200, response.text
    timeline = response.json()
    assert timeline["status"] == "completed" and timeline["step_timeline"], timeline
    assert timeline["completed_step_count"] >= 1, timeline
