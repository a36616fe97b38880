"""The one place where "not found" (a query returning None) becomes an HTTP 404, and a
write the store refused as a `Conflict` a 409."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TypeVar

from fastapi import HTTPException
from flowscope.storage.errors import Conflict

T = TypeVar("T")


def not_found(kind: str, ident: str, scope: str = "") -> HTTPException:
    """404 whose detail names the id, e.g. "Execution 'abc' not found"."""
    where = f" in {scope}" if scope else ""
    return HTTPException(404, f"{kind} {ident!r} not found{where}")


def or_404(value: T | None, kind: str, ident: str, scope: str = "") -> T:
    """`value`, or a 404 naming `ident` when the query found nothing (in this workspace)."""
    if value is None:
        raise not_found(kind, ident, scope)
    return value


@contextmanager
def conflict_as_409() -> Iterator[None]:
    """Around a catalog write: `Conflict` (a slug taken, a project still in use) becomes a 409
    whose detail is the store's message."""
    try:
        yield
    except Conflict as exc:
        raise HTTPException(409, str(exc)) from None
