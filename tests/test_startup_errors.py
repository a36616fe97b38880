"""`flowscope serve` that cannot start because of a setting says so in one line naming the flag
or environment variable to change, exits with status 2, and prints no traceback."""

from __future__ import annotations

import inspect
import os
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import pytest

from flowscope.cli import _flags, serve
from flowscope.settings import Settings

ANY_PORTS = ("--api-port", "0", "--otlp-http-port", "0", "--otlp-grpc-port", "0")


def _serve(cwd: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "flowscope", "serve", "--host", "127.0.0.1", *args],
        cwd=cwd, env={**os.environ, **(env or {})}, capture_output=True, text=True, timeout=90,
    )  # fmt: skip


@contextmanager
def _port_taken(reuse_port: bool = False) -> Iterator[int]:
    """A port someone else listens on (with SO_REUSEPORT, as gRPC servers do, when asked)."""
    with socket.socket() as sock:
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


@contextmanager
def _locked(db: Path) -> Iterator[None]:
    """Another process holds the database file open (DuckDB locks it)."""
    hold = f"import duckdb, sys; c = duckdb.connect({str(db)!r}); print(1); sys.stdin.read()"
    holder = subprocess.Popen(
        [sys.executable, "-c", hold], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "1"
        yield
    finally:
        holder.kill()
        holder.wait(30)


def _assert_one_line(done: subprocess.CompletedProcess[str], *names: str) -> None:
    output = done.stdout + done.stderr
    assert done.returncode == 2, output
    assert "Traceback" not in output, output
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("flowscope: "), output
    for name in names:
        assert name in lines[0], output


@pytest.mark.parametrize(
    ("flag", "names", "reuse_port"),
    [
        ("--api-port", ("--api-port", "FLOWSCOPE_API_PORT", "in use"), False),
        ("--otlp-http-port", ("--otlp-http-port", "FLOWSCOPE_OTLP_HTTP_PORT", "in use"), False),
        ("--otlp-grpc-port", ("--otlp-grpc-port", "FLOWSCOPE_OTLP_GRPC_PORT", "in use"), False),
        # Another gRPC server (SO_REUSEPORT): gRPC's default would have shared the port with it.
        ("--otlp-grpc-port", ("--otlp-grpc-port", "FLOWSCOPE_OTLP_GRPC_PORT", "in use"), True),
    ],
)
def test_busy_port(tmp_path: Path, flag: str, names: tuple[str, ...], reuse_port: bool) -> None:
    with _port_taken(reuse_port) as port:
        ports = dict(zip(ANY_PORTS[::2], ANY_PORTS[1::2], strict=True)) | {flag: str(port)}
        done = _serve(tmp_path, "--db", "f.duckdb", *(x for kv in ports.items() for x in kv))
    _assert_one_line(done, *names, str(port))


@contextmanager
def _garbage(db: Path) -> Iterator[None]:
    db.write_text("not a database\n" * 500)
    yield


@contextmanager
def _directory(db: Path) -> Iterator[None]:
    db.mkdir()
    yield


@pytest.mark.parametrize(
    ("case", "reason"),
    [(_locked, "lock"), (_garbage, "not a valid DuckDB database"), (_directory, "directory")],
    ids=["locked", "not-a-database", "a-directory"],
)
def test_database_that_cannot_be_opened(
    tmp_path: Path, case: Callable[[Path], AbstractContextManager[None]], reason: str
) -> None:
    db = tmp_path / "f.duckdb"
    with case(db):
        done = _serve(tmp_path, "--db", str(db), *ANY_PORTS)
    _assert_one_line(done, "--db / FLOWSCOPE_DB", str(db), reason)


@pytest.mark.parametrize(
    ("args", "env", "names"),
    [
        ((), {"FLOWSCOPE_MAX_STEPS": "lots"}, ("FLOWSCOPE_MAX_STEPS", "'lots'", "integer")),
        (("--auth", "maybe"), {}, ("--auth", "'maybe'", "'none' or 'token'")),
        (("--max-steps", "0"), {}, ("--max-steps", "greater than or equal to 1")),
        ((), {"FLOWSCOPE_CORS_ORIGINS": "https://a.example"}, ("FLOWSCOPE_CORS_ORIGINS", "JSON")),
        # Checked before DuckDB sees it (which answered with a traceback).
        (("--memory-limit", "lots"), {}, ("--memory-limit", "'lots'", "2GB")),
    ],
    ids=["variable", "flag", "flag-range", "list-variable", "memory-size"],
)
def test_invalid_setting(
    tmp_path: Path, args: tuple[str, ...], env: dict[str, str], names: tuple[str, ...]
) -> None:
    done = _serve(tmp_path, "--db", "f.duckdb", *ANY_PORTS, *args, env=env)
    _assert_one_line(done, *names)
    assert not (tmp_path / "f.duckdb").exists()  # nothing was opened


def test_every_serve_flag_names_a_setting() -> None:
    """The flag named in those lines is found by _flags()' rule: keep every flag on it."""
    flags = _flags()
    assert len(flags) == len(inspect.signature(serve).parameters)
    assert set(flags) <= set(Settings.model_fields), set(flags) - set(Settings.model_fields)
