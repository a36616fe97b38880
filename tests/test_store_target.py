"""What `serve --store/--db/--data-path` open (compose.store_target): a DuckDB file or a DuckLake;
anything else is a StartupError naming the setting (the CLI prints it and exits 2)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from flowscope.compose import preflight, store_target
from flowscope.settings import Settings
from flowscope.startup_errors import StartupError

LAKE = "ducklake:postgres:dbname=flowscope host=127.0.0.1 user=flowscope"


@pytest.fixture(autouse=True)
def _no_flowscope_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in os.environ:
        if name.startswith("FLOWSCOPE_"):
            monkeypatch.delenv(name)


def test_the_default_is_the_db_file() -> None:
    target = store_target(Settings())
    assert target.file == Path("./flowscope.duckdb") and target.lake is None


def test_store_path_is_the_db_file_and_names_the_node_files() -> None:
    settings = Settings(store="/var/lib/fs/t.duckdb")
    assert settings.db == Path("/var/lib/fs/t.duckdb")  # journal, sandbox: next to it
    assert store_target(settings).file == Path("/var/lib/fs/t.duckdb")
    assert store_target(Settings(store="a.duckdb", db=Path("a.duckdb"))).file == Path("a.duckdb")


@pytest.mark.parametrize("data_path", ["/mnt/lake", "s3://bucket/flowscope/"])
def test_a_lake_with_its_data_path(data_path: str) -> None:
    target = store_target(Settings(store=LAKE, data_path=data_path, db=Path("node1")))
    assert target.lake is not None and target.lake.conninfo == LAKE.removeprefix("ducklake:postgres:")
    assert target.data_path == data_path  # s3:// passed to DuckLake as it is
    assert target.file == Path("node1")  # the node's own files only
    assert target.described() == "ducklake:postgres:dbname=flowscope%20host=127.0.0.1%20user=flowscope"


@pytest.mark.parametrize(
    ("given", "setting", "says"),
    [
        ({"store": LAKE}, "data_path", "is required with a ducklake: store"),
        ({"store": "ducklake:sqlite:x.db", "data_path": "/d"}, "store", "unsupported DuckLake catalog"),
        ({"store": "ducklake:postgres:dbname", "data_path": "/d"}, "store", "malformed libpq conninfo"),
        ({"store": "a.duckdb", "db": Path("b.duckdb")}, "store", "names another file than --db"),
        ({"data_path": "/d"}, "data_path", "is for a ducklake: store only"),
    ],
)
def test_what_names_no_store_is_refused(given: dict[str, Any], setting: str, says: str) -> None:
    with pytest.raises(StartupError) as refused:
        store_target(Settings(**given))
    (problem,) = refused.value.problems
    assert problem.setting == setting and says in problem.text


def test_a_password_is_not_in_the_ready_line() -> None:
    target = store_target(Settings(store=LAKE + " password=hunter2", data_path="/d"))
    assert "hunter2" not in target.described()


@pytest.mark.parametrize("inside", [True, False])
def test_a_sandbox_overlapping_the_lake_data_is_refused(tmp_path: Path, inside: bool) -> None:
    sandbox = tmp_path / "sandbox"
    data = sandbox / "lake" if inside else tmp_path
    settings = Settings(store=LAKE, data_path=str(data), db=tmp_path / "node", sandbox_dir=sandbox)
    problem = preflight(settings)
    assert problem is not None and "overlap" in problem


def test_a_separate_sandbox_and_remote_data_are_fine(tmp_path: Path) -> None:
    for data in (str(tmp_path / "lake"), "s3://bucket/lake/"):
        settings = Settings(store=LAKE, data_path=data, db=tmp_path / "node", sandbox_dir=tmp_path / "sb")
        assert preflight(settings) is None
