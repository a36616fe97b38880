"""`--store` URLs of the DuckLake store (storage/ducklake/url.py): what parses, what is refused."""

from __future__ import annotations

import pytest
from flowscope.storage.ducklake.url import StoreUrlError, is_lake, parse_lake, redact


@pytest.mark.parametrize(
    "conninfo",
    [
        "dbname=flowscope host=127.0.0.1 user=flowscope",
        "dbname=flowscope  host = db.internal port=5432",
        "dbname='my lake' host=/run/postgresql",
        r"dbname=x password='a\'b c'",
        "postgresql://flowscope:secret@db.internal:5432/flowscope",
        "postgres://db/flowscope",
    ],
)
def test_a_libpq_conninfo_is_a_lake(conninfo: str) -> None:
    url = f"ducklake:postgres:{conninfo}"
    assert is_lake(url)
    assert parse_lake(url).conninfo == conninfo.strip()


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("ducklake:postgres:", "needs a libpq conninfo"),
        ("ducklake:postgres:   ", "needs a libpq conninfo"),
        ("ducklake:sqlite:lake.db", "expected ducklake:postgres:"),
        ("ducklake:metadata.ducklake", "expected ducklake:postgres:"),
        ("ducklake:postgres:dbname", "malformed libpq conninfo"),
        ("ducklake:postgres:dbname=x host", "malformed libpq conninfo"),
        ("ducklake:postgres:dbname='unterminated", "malformed libpq conninfo"),
    ],
)
def test_a_malformed_lake_url_is_refused_with_the_reason(url: str, says: str) -> None:
    with pytest.raises(StoreUrlError, match=says):
        parse_lake(url)


def test_a_file_path_is_not_a_lake() -> None:
    assert not is_lake("./flowscope.duckdb")
    assert not is_lake("/var/lib/ducklake:postgres/x.duckdb")


def test_passwords_never_reach_messages() -> None:
    assert redact("ducklake:postgres:dbname=x password=hunter2 host=h") == (
        "ducklake:postgres:dbname=x password=*** host=h"
    )
    assert "s3cr3t" not in redact("ducklake:postgres:dbname=x password='s3 cr3t'")
    assert redact("ducklake:postgres:postgresql://u:s3cr3t@h/db") == "ducklake:postgres:postgresql://u:***@h/db"
    with pytest.raises(StoreUrlError) as refused:
        parse_lake("ducklake:postgres:password=hunter2 broken")
    assert "hunter2" not in str(refused.value)
