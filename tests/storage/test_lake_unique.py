"""Uniqueness across the nodes of one lake (storage/ducklake/catalog.py): DuckLake has no
UNIQUE, so two nodes creating the same workspace slug, or storing the same token hash, at the
same moment would both commit; the catalog's serial row makes the later one conflict, run
again and be refused, as the file's UNIQUE refuses it. Two stores on one real lake, as two
nodes have them, writing from two threads released together."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest
from flowscope.storage.ducklake.store import LakeStore
from flowscope.storage.errors import Conflict

from tests.storage.lake_nodes import at_once, two_stores
from tests.support.postgres import Postgres

ROUNDS = 6


@pytest.fixture
def two(
    postgres: Postgres, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[tuple[LakeStore, LakeStore]]:
    with two_stores(postgres, tmp_path, "unique_" + request.node.name[5:40]) as stores:
        yield stores


def test_two_nodes_creating_one_slug_at_once_make_one_workspace(two: tuple[LakeStore, LakeStore]) -> None:
    a, b = two
    for k in range(ROUNDS):
        slug = f"team-{k}"
        results = at_once(
            partial(a.catalog.create_workspace, slug, "from a"),
            partial(b.catalog.create_workspace, slug, "from b"),
        )
        refused = [r for r in results if isinstance(r, Conflict)]
        assert len(refused) == 1, results
        assert "already taken" in str(refused[0])
        for store in (a, b):
            assert [w.slug for w in store.catalog.workspaces()].count(slug) == 1


def test_two_nodes_creating_other_slugs_at_once_both_succeed(two: tuple[LakeStore, LakeStore]) -> None:
    """The loser of the serial row's conflict runs again and succeeds: nothing is refused for
    being concurrent only."""
    a, b = two
    for k in range(ROUNDS):
        results = at_once(
            partial(a.catalog.create_workspace, f"a-{k}", "a"),
            partial(b.catalog.create_workspace, f"b-{k}", "b"),
        )
        assert [r.slug for r in results] == [f"a-{k}", f"b-{k}"], results
    assert {w.slug for w in a.catalog.workspaces()} >= {f"{n}-{k}" for n in "ab" for k in range(ROUNDS)}


def test_two_nodes_storing_one_token_hash_at_once_store_it_once(two: tuple[LakeStore, LakeStore]) -> None:
    a, b = two
    workspace = a.catalog.create_workspace("tokens", "tokens")
    for k in range(ROUNDS):
        token_hash = f"{k:064x}"
        results = at_once(
            partial(a.catalog.add_token, workspace.id, token_hash, "viewer", "a"),
            partial(b.catalog.add_token, workspace.id, token_hash, "viewer", "b"),
        )
        refused = [r for r in results if isinstance(r, Conflict)]
        assert len(refused) == 1, results
        stored = (
            a.cursor().execute("SELECT count(*) FROM tokens WHERE token_hash = ?", [token_hash]).fetchone()
        )
        assert stored == (1,)
