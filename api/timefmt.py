"""Time conversions between the store (unix nanoseconds) and the API (UTC datetimes)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def ns_to_dt(ns: int | None) -> datetime | None:
    """Unix nanoseconds -> aware UTC datetime (exact to the microsecond); None and 0 stay None."""
    if not ns:
        return None
    return _EPOCH + timedelta(microseconds=ns // 1000)


def dt_to_ns(value: datetime) -> int:
    """Aware or naive (taken as UTC) datetime -> unix nanoseconds."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    delta = value - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000
