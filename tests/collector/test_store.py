"""Schema versioning (old files open in new versions), retention, and the health endpoints."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import duckdb
import flowscope.storage.duckdb.schema as schema
import flowscope.storage.duckdb.sqlfiles as sqlfiles
import pytest
from flowscope.storage.duckdb.schema import MigrationError, migrate, migrations
from flowscope.storage.duckdb.sqlfiles import statements
from flowscope.storage.duckdb.store import STORAGE
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from tests.collector.helpers import (
    all_spans,
    count,
    logs_request,
    metric,
    open_db,
    post,
    rows,
    spans_request,
    stored_spans,
    wait_for,
)
from tests.support.server import start_server

DAY_NS = 86_400 * 10**9


def _old_database(path: Path) -> Span:
    """A file as the first release wrote it: only migration 001, with one span and one log record."""
    con = duckdb.connect(str(path), config=STORAGE)  # the file format the Store creates
    con.execute(
        "CREATE TABLE schema_version (version INTEGER PRIMARY KEY, name VARCHAR NOT NULL,"
        " applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
    )
    for statement in statements("migrations/001_core"):
        con.execute(statement)
    con.execute("INSERT INTO schema_version (version, name) VALUES (1, '001_core')")
    request, _ = spans_request(1, service="old-svc")
    span = all_spans(request)[0]
    con.execute(
        "INSERT INTO spans VALUES ('default', ?, ?, '', 'old span', 1, ?, ?, 5, 0, '', 'old-svc', 's', 1, 2,"
        " NULL, NULL, NULL, NULL, NULL, NULL, ?)",
        [
            span.trace_id.hex(),
            span.span_id.hex(),
            span.start_time_unix_nano,
            span.end_time_unix_nano,
            span.SerializeToString(),
        ],
    )
    con.execute(
        "INSERT INTO resources VALUES (1, ?, '')", [request.resource_spans[0].resource.SerializeToString()]
    )
    con.execute(
        "INSERT INTO scopes VALUES (2, ?, '')",
        [request.resource_spans[0].scope_spans[0].scope.SerializeToString()],
    )
    con.execute(
        "INSERT INTO logs VALUES ('default', 7, 1, 1, 9, 'INFO', 'old body', '', '', '', 'old-svc', 1, 2,"
        " NULL, NULL, NULL, '\\x00'::BLOB)"
    )
    con.close()
    return span


def test_a_file_written_by_an_older_version_opens_and_is_migrated(tmp_path: Path) -> None:
    db = tmp_path / "old.duckdb"
    old_span = _old_database(db)
    server = start_server(db)
    try:
        request, ids = spans_request(3)
        assert post(server, "traces", request).status_code == 200
        assert post(server, "logs", logs_request(1)).status_code == 200
    finally:
        assert server.terminate() == 0
    shipped = migrations()
    with open_db(db) as con:
        versions = [r[0] for r in con.execute("SELECT version FROM schema_version ORDER BY 1").fetchall()]
        stored = stored_spans(con)
        # The blobs as stored, not the CREATE text: DuckDB 1.5 omits USING COMPRESSION from it,
        # and stores a BLOB uncompressed despite the clause when the file's format lacks ZSTD.
        blobs = con.execute(
            "SELECT table_name, compression FROM ("
            " SELECT 'spans' AS table_name, * FROM pragma_storage_info('spans') WHERE column_name = 'span'"
            " UNION ALL"
            " SELECT 'logs', * FROM pragma_storage_info('logs') WHERE column_name = 'record')"
            " WHERE segment_type = 'BLOB' GROUP BY ALL ORDER BY ALL"
        ).fetchall()
        indexes = {r[0] for r in con.execute("SELECT index_name FROM duckdb_indexes()").fetchall()}
        old_log = rows(con, "SELECT * FROM logs WHERE record_hash = 7")
    assert versions == [v for v, _ in shipped]  # every migration recorded once, in order
    assert len(stored) == 4 and set(ids) <= set(stored)
    assert stored[(old_span.trace_id.hex(), old_span.span_id.hex())]["span"] == old_span  # old rows kept
    assert old_log and old_log[0]["body"] == "old body"
    assert blobs == [("logs", "ZSTD"), ("spans", "ZSTD")]
    assert {"spans_trace_id", "logs_trace_id", "executions_execution_id"} <= indexes


def test_a_file_from_a_newer_version_is_refused_clearly(tmp_path: Path) -> None:
    db = tmp_path / "new.duckdb"
    con = duckdb.connect(str(db))
    migrate(con)
    con.execute("INSERT INTO schema_version (version, name) VALUES (999, '999_future')")
    con.close()
    with pytest.raises(RuntimeError, match="newer than this Flowscope"):
        start_server(db, timeout=30)


@pytest.fixture
def migrations_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "sql"
    (folder / "migrations").mkdir(parents=True)
    monkeypatch.setattr(sqlfiles, "SQL_DIR", folder)
    monkeypatch.setattr(schema, "SQL_DIR", folder)
    sqlfiles.sql.cache_clear()
    yield folder
    sqlfiles.sql.cache_clear()


def test_migrations_run_once_in_order_including_a_late_lower_number(migrations_dir: Path) -> None:
    m = migrations_dir / "migrations"
    (m / "001_first.sql").write_text("CREATE TABLE a (x INTEGER);\nINSERT INTO a VALUES (1);\n")
    (m / "003_third.sql").write_text("INSERT INTO a VALUES (3);\n")
    con = duckdb.connect(":memory:")
    assert migrate(con) == 3
    assert migrate(con) == 3  # idempotent
    # A migration merged later with a lower number still runs (once).
    (m / "002_second.sql").write_text("INSERT INTO a VALUES (2);\n")
    assert migrate(con) == 3
    assert [r[0] for r in con.execute("SELECT x FROM a ORDER BY rowid").fetchall()] == [1, 3, 2]
    assert [r[0] for r in con.execute("SELECT version FROM schema_version ORDER BY 1").fetchall()] == [
        1,
        2,
        3,
    ]


def test_a_failing_migration_is_rolled_back_entirely(migrations_dir: Path) -> None:
    m = migrations_dir / "migrations"
    (m / "001_first.sql").write_text("CREATE TABLE a (x INTEGER);\n")
    (m / "002_broken.sql").write_text("CREATE TABLE b (y INTEGER);\nINSERT INTO nowhere VALUES (1);\n")
    con = duckdb.connect(":memory:")
    with pytest.raises(MigrationError, match="002_broken"):
        migrate(con)
    assert [r[0] for r in con.execute("SELECT version FROM schema_version").fetchall()] == [1]
    assert not con.execute("SELECT * FROM duckdb_tables() WHERE table_name = 'b'").fetchall()


def test_duplicate_migration_numbers_are_refused(migrations_dir: Path) -> None:
    m = migrations_dir / "migrations"
    (m / "001_a.sql").write_text("SELECT 1;\n")
    (m / "001_b.sql").write_text("SELECT 1;\n")
    with pytest.raises(MigrationError, match="duplicate"):
        migrations()


def test_retention_deletes_old_telemetry_in_the_background(make_server: Any) -> None:
    server = make_server("--retention-days", "1", "--retention-interval-seconds", "0.3")
    now = time.time_ns()
    old_spans, old_ids = spans_request(40, start_ns=now - 3 * DAY_NS)
    new_spans, new_ids = spans_request(25, start_ns=now - DAY_NS // 2)
    assert post(server, "traces", old_spans).status_code == 200
    assert post(server, "traces", new_spans).status_code == 200
    assert post(server, "logs", logs_request(7, time_ns=now - 2 * DAY_NS)).status_code == 200
    assert post(server, "logs", logs_request(4, time_ns=now)).status_code == 200
    wait_for(
        lambda: (
            metric(server, "flowscope_collector_retention_deleted_total", signal="traces") >= 40
            and metric(server, "flowscope_collector_retention_deleted_total", signal="logs") >= 7
        ),
        what="retention to delete the old rows",
    )
    # Ingest keeps working while retention runs periodically.
    later, later_ids = spans_request(10)
    assert post(server, "traces", later).status_code == 200
    runs = metric(server, "flowscope_collector_retention_runs_total")
    # Two more passes after the later spans' commit, which must keep the recent rows.
    wait_for(
        lambda: metric(server, "flowscope_collector_retention_runs_total") >= runs + 2,
        what="two more retention passes",
    )
    assert server.terminate() == 0
    with open_db(server.db) as con:
        stored = set(stored_spans(con))
        assert count(con, "logs") == 4
    assert stored == set(new_ids) | set(later_ids)
    assert not stored & set(old_ids)


def test_health_and_readiness(make_server: Any) -> None:
    server = make_server()
    health = server.get("/healthz")
    assert health.status_code == 200 and health.json() == {"status": "ok"}
    ready = server.get("/readyz")
    assert ready.status_code == 200 and ready.json() == {"status": "ready"}
