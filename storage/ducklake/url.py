"""What `--store` names: a DuckDB file, or a DuckLake whose catalog is a PostgreSQL database.

`ducklake:postgres:<libpq conninfo>` (DESIGN.md "Running it"): the conninfo is libpq's, either
`key=value` pairs (`dbname=flowscope host=127.0.0.1 user=flowscope`, values quoted with '...'
when they hold spaces) or a `postgresql://` URI. Anything else is a DuckDB file path.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

LAKE_PREFIX = "ducklake:"
POSTGRES_PREFIX = "ducklake:postgres:"

# One libpq `key=value` pair: a bare value, or a single-quoted one with \' and \\ escapes.
_PAIR = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*('(?:[^'\\]|\\.)*'|[^\s']+)\s*")
_URI = re.compile(r"postgres(?:ql)?://\S*")
_SECRET = re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s'\"]+)|(://[^:/@\s]*:)[^@\s]*@", re.IGNORECASE)


class StoreUrlError(ValueError):
    """`--store` names no store this Flowscope can open (the message says why)."""


@dataclass(frozen=True)
class LakeUrl:
    conninfo: str
    """The PostgreSQL catalog's libpq conninfo, as given."""

    @property
    def url(self) -> str:
        return POSTGRES_PREFIX + self.conninfo

    def redacted(self) -> str:
        """The URL with any password replaced, for messages and logs."""
        return redact(self.url)


def is_lake(url: str) -> bool:
    return url.startswith(LAKE_PREFIX)


def parse_lake(url: str) -> LakeUrl:
    """The catalog named by `ducklake:postgres:<conninfo>`; StoreUrlError when malformed."""
    if not url.startswith(POSTGRES_PREFIX):
        raise StoreUrlError(
            f"unsupported DuckLake catalog in {redact(url)!r}: expected ducklake:postgres:<libpq conninfo>, "
            "e.g. 'ducklake:postgres:dbname=flowscope host=127.0.0.1 user=flowscope'"
        )
    conninfo = url.removeprefix(POSTGRES_PREFIX).strip()
    if not conninfo:
        raise StoreUrlError(
            "ducklake:postgres: needs a libpq conninfo, e.g. 'dbname=flowscope host=127.0.0.1'"
        )
    if not _URI.fullmatch(conninfo):
        position = 0
        while position < len(conninfo):
            pair = _PAIR.match(conninfo, position)
            if pair is None:
                raise StoreUrlError(
                    f"malformed libpq conninfo in {redact(url)!r} at {redact(conninfo[position:])!r}: "
                    "expected key=value pairs or a postgresql:// URI"
                )
            position = pair.end()
    return LakeUrl(conninfo)


def redact(text: str) -> str:
    """`text` with libpq passwords (password=..., or user:password@ in a URI) replaced."""

    def hide(m: re.Match[str]) -> str:
        return f"{m.group(1)}***" if m.group(1) else f"{m.group(3)}***@"

    return _SECRET.sub(hide, text)
