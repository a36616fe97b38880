"""DuckDB's exceptions mapped to the store-neutral ones of `flowscope.storage.errors`."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import duckdb
from flowscope.storage.errors import StorageUnavailable, StoreLocked, StoreOpenError

UnavailableRule = Callable[[BaseException], StorageUnavailable | None]
# What another store on DuckDB adds to "unavailable" (the lake: its catalog unreachable, its data
# path refusing writes: storage/ducklake/failures.py); registered when such a store opens, so a
# process serving the file maps exactly what it always did.
_RULES: list[UnavailableRule] = []


def register_unavailable(rule: UnavailableRule) -> None:
    if rule not in _RULES:
        _RULES.append(rule)


def is_fatal(exc: BaseException) -> bool:
    """The DuckDB instance is unusable until reopened (FATAL, or a connection closed under us)."""
    return isinstance(exc, duckdb.FatalException | duckdb.ConnectionException) or "invalidated" in str(exc)


@contextlib.contextmanager
def mapped_errors() -> Iterator[None]:
    """Around every read: an invalidated or closed database surfaces as `StorageUnavailable`
    (the API answers 503 and the writer reopens the file), and so does what a registered rule
    calls unavailable; other errors pass unchanged."""
    try:
        yield
    except duckdb.Error as exc:
        if is_fatal(exc):
            raise StorageUnavailable(f"storage unavailable: {exc}") from exc
        for rule in _RULES:
            mapped = rule(exc)
            if mapped is not None:
                raise mapped from None  # (its message is redacted: the cause's may not be)
        raise


@contextlib.contextmanager
def opening(path: str) -> Iterator[None]:
    """Around opening the database file (and making its folder): DuckDB's reason it cannot,
    such as another process holding the file's lock, surfaces as `StoreOpenError`."""
    try:
        yield
    except (duckdb.IOException, OSError) as exc:
        reason = " ".join(str(exc).removeprefix("IO Error: ").split())
        # DuckDB says so in its message only: "Could not set lock on file ... Conflicting lock".
        error = StoreLocked if "lock" in reason.lower() else StoreOpenError
        raise error(f"cannot open the database {path}: {reason}") from exc
