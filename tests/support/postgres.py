"""A PostgreSQL server of the tests' own, in a temporary directory (the DuckLake store's catalog).

It needs Debian's `postgresql` binaries (scripts/system-deps.sh installs them); without them
`start_postgres` raises `PostgresMissing` and the tests that need it skip.

initdb refuses to run as root ("cannot be run as root"), and so does the server. As root the
cluster is therefore created and run as an unprivileged account (`postgres`, which the Debian
package creates, else `nobody`) through `runuser`, in a directory made directly under the
system temp dir and handed to that account: pytest's own temp dirs are private to root, and
the account could not enter them. The server listens on 127.0.0.1 on a free port and on a
unix socket in the same directory; it trusts every local connection (a throwaway cluster
holding test data only), as user `flowscope`. fsync is off: nothing of it must survive a crash.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

USER = "flowscope"
START_TIMEOUT_SECONDS = 60


class PostgresMissing(RuntimeError):
    pass


def _bin_dir() -> Path:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if candidates:
        return Path(candidates[-1]).parent
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    raise PostgresMissing("PostgreSQL's initdb not found (scripts/system-deps.sh installs it)")


def _run_as() -> list[str]:
    """The command prefix that runs a PostgreSQL binary as a non-root account (none needed
    when the tests do not run as root)."""
    if os.geteuid() != 0:
        return []
    runuser = shutil.which("runuser")
    if runuser is None:
        raise PostgresMissing("running as root, and runuser is missing to start PostgreSQL as another user")
    for account in ("postgres", "nobody"):
        try:
            pwd.getpwnam(account)
        except KeyError:
            continue
        return [runuser, "-u", account, "--"]
    raise PostgresMissing("running as root, and no 'postgres' or 'nobody' account to run PostgreSQL as")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class SessionsEnded:
    """What `Postgres.ending_sessions` did, once its block is left: how many sessions it ended,
    and psql's complaints (a backend gone between the listing and the ending warns)."""

    count: int = 0
    stderr: str = ""


@dataclass
class Postgres:
    root: Path
    port: int
    bin_dir: Path
    run_as: list[str]
    durable: bool = False  # fsync and synchronous commits on, as in production (benchmarks)
    _databases: set[str] = field(default_factory=set)

    def conninfo(self, dbname: str) -> str:
        """libpq conninfo of database `dbname` over TCP (as a node on another machine would)."""
        return f"dbname={dbname} host=127.0.0.1 port={self.port} user={USER}"

    def create_database(self, dbname: str) -> str:
        """Create `dbname` unless this server made it already; returns its conninfo."""
        if dbname not in self._databases:
            self._admin("createdb", dbname)
            self._databases.add(dbname)
        return self.conninfo(dbname)

    def _admin(self, tool: str, *args: str) -> None:
        subprocess.run(
            [str(self.bin_dir / tool), "-h", str(self.root), "-p", str(self.port), "-U", USER, *args],
            check=True, capture_output=True, timeout=60,
        )  # fmt: skip

    @contextlib.contextmanager
    def ending_sessions(self, dbname: str, every: float = 0.1) -> Iterator[SessionsEnded]:
        """While inside, every `every` seconds, end every session on `dbname`, the server staying
        up (pg_terminate_backend, as an operator, a pooler or a restart does): one psql
        repeating the query (`\\watch`), not a process per round."""
        ended = SessionsEnded()
        query = (
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            f"WHERE datname = '{dbname}' AND pid <> pg_backend_pid() \\watch {every}\n"
        )
        psql = subprocess.Popen(
            [str(self.bin_dir / "psql"), "-h", str(self.root), "-p", str(self.port), "-U", USER,
             "-d", "postgres", "-qAt"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            assert psql.stdin is not None
            psql.stdin.write(query)
            psql.stdin.flush()
            yield ended
        finally:
            psql.terminate()
            out, err = psql.communicate(timeout=30)
            ended.count = sum(int(line) for line in out.split() if line.isdigit())
            ended.stderr = err.strip()

    def stop(self, mode: str = "fast") -> None:
        """Stop the server, keeping its data (`start()` brings it back on the same port). "fast"
        ends every session at once, as an operator's restart does; "immediate" is a crash."""
        pg_ctl = str(self.bin_dir / "pg_ctl")
        subprocess.run(
            [*self.run_as, pg_ctl, "-D", str(self.root / "data"), "-m", mode, "-w", "stop"],
            capture_output=True, timeout=60,
        )  # fmt: skip

    def start(self) -> None:
        """Start the stopped server again, on the same data directory and port."""
        started = _pg_ctl_start(self.bin_dir, self.run_as, self.root, self.port, self.durable)
        if started.returncode != 0:
            raise RuntimeError(
                f"PostgreSQL did not start again: {started.stderr.decode()}\n{self.log_tail()}"
            )

    def freeze(self) -> None:
        """SIGSTOP the server and its backends: connections stay open and nothing answers (as a
        hung server, or a network dropping packets, looks to a client)."""
        for pid in self._pids():
            os.kill(pid, signal.SIGSTOP)

    def thaw(self) -> None:
        for pid in self._pids():
            os.kill(pid, signal.SIGCONT)

    def _pids(self) -> list[int]:
        postmaster = int((self.root / "data" / "postmaster.pid").read_text().split()[0])
        children = subprocess.run(["pgrep", "-P", str(postmaster)], capture_output=True, text=True).stdout
        return [postmaster, *map(int, children.split())]

    def log_tail(self) -> str:
        return (self.root / "server.log").read_text(errors="replace")[-2000:]

    def remove(self) -> None:
        """Stop the server (as a crash: nothing of it must survive) and delete its directory."""
        with contextlib.suppress(OSError, ValueError):  # a frozen server would not stop
            self.thaw()
        self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


def _pg_ctl_start(
    bin_dir: Path, run_as: list[str], root: Path, port: int, durable: bool
) -> subprocess.CompletedProcess[bytes]:
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c max_connections=200"
    if not durable:
        options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    return subprocess.run(
        [*run_as, str(bin_dir / "pg_ctl"), "-D", str(root / "data"), "-o", options,
         "-l", str(root / "server.log"), "-w", "-t", str(START_TIMEOUT_SECONDS), "start"],
        capture_output=True, timeout=START_TIMEOUT_SECONDS + 10,
    )  # fmt: skip


def start_postgres(root: Path | None = None, *, durable: bool = False) -> Postgres:
    """A new cluster, started; `remove()` it when done. `durable`: with fsync and synchronous
    commits, as in production (benchmarks); the tests' clusters run without. With `root` (a
    directory a stopped cluster of this function was kept in, or a new one): that cluster,
    created there if missing, and never removed on failure (bench/ caches a lake's catalog so;
    `stop()` keeps it)."""
    bin_dir, run_as = _bin_dir(), _run_as()
    keep = root is not None
    if root is None:
        root = Path(tempfile.mkdtemp(prefix="flowscope-pg-"))
    root.mkdir(parents=True, exist_ok=True)
    if run_as:
        account = run_as[2]
        shutil.chown(root, user=account)
    try:
        if not (root / "data").exists():
            subprocess.run(
                [*run_as, str(bin_dir / "initdb"), "-D", str(root / "data"), "-U", USER, "-A", "trust",
                 "-E", "UTF8", "--no-sync"],
                check=True, capture_output=True, timeout=120,
            )  # fmt: skip
        for attempt in range(3):  # the free port may be taken between the probe and the bind
            port = _free_port()
            started = _pg_ctl_start(bin_dir, run_as, root, port, durable)
            if started.returncode == 0:
                return Postgres(root, port, bin_dir, run_as, durable)
            if attempt == 2:
                log = (root / "server.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"PostgreSQL did not start: {started.stderr.decode()}\n{log}")
    except BaseException:
        if not keep:
            shutil.rmtree(root, ignore_errors=True)
        raise
    raise AssertionError("unreachable")
