"""The trigger journal: what execute acknowledged, kept on disk until the writer commits it.

Execute answers 202 before the writer's DuckDB commit (a commit costs ~13 ms; reads wait
for it instead: api/visibility.py `VisibilityBarrier`). So that an acknowledged execution
survives a crash before that commit, each writer request the API makes for triggers (its
queued records and the execution numbers taken) is first appended here as one line and
fdatasync'd: ~0.3-0.4 ms on this machine, against ~2.3 ms for even a one-row DuckDB commit
on a connection of its own (which would also conflict with the writer's). Triggers that
arrive while a sync runs share the next one (api/intake.py).

At start (api/recovery.py `replay_journal`), lines whose executions are not in the store
are submitted again, then crash recovery closes those executions as interrupted. The file
is emptied when a new append finds every earlier line committed. Under sustained triggers
some earlier line is always waiting for its commit, so once the file passes
`COMPACT_AT_BYTES` an append first rewrites it with only the lines still needed (in a new
file, synced, renamed over the old one): the file stays about as small as what is in
flight. A line whose commit failed stays, through rewrites, until the API's later try
commits it (api/intake.py) or the next start replays it. Lines are
`<crc32 hex> <json>\\n`: a torn last line (a crash during an append, which was therefore
never acknowledged) fails its checksum and is skipped.
"""

from __future__ import annotations

import base64
import contextlib
import logging
import os
import threading
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import orjson

log = logging.getLogger("flowscope.api")

# Past this size an append that finds lines still needed rewrites the file with just those
# (when they are under half of it, so rewrites stay rare however many lines failed).
COMPACT_AT_BYTES = 1 << 20


@dataclass(frozen=True, slots=True)
class Entry:
    """One writer request of triggers: a workspace's queued records and numbers taken."""

    workspace_id: str
    execution_ids: list[str]
    next_numbers: dict[str, int]  # workflow id -> the least next execution number to store
    logs: bytes  # the ExportLogsServiceRequest, serialized

    def line(self) -> bytes:
        body = orjson.dumps({
            "ws": self.workspace_id, "ids": self.execution_ids, "next": self.next_numbers,
            "logs": base64.b64encode(self.logs).decode(),
        })  # fmt: skip
        return b"%08x %s\n" % (zlib.crc32(body), body)

    @classmethod
    def parse(cls, line: bytes) -> Entry | None:
        """The entry of a line, or None when it is torn or corrupt."""
        crc, _, body = line.rstrip(b"\n").partition(b" ")
        try:
            if int(crc, 16) != zlib.crc32(body):
                return None
            data = orjson.loads(body)
            return cls(data["ws"], list(data["ids"]), dict(data["next"]), base64.b64decode(data["logs"]))
        except (ValueError, KeyError, TypeError):
            return None


class TriggerJournal:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._io = threading.Lock()  # appends, rewrites and truncation, one at a time
        self._state = threading.Lock()  # outstanding and held (the writer thread takes it too)
        self._outstanding: set[int] = set()  # begun, not committed
        self._held: dict[int, bytes] = {}  # the lines in the file of outstanding requests
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._size = os.fstat(self._fd).st_size
        self.rewrites = 0  # how many times the file was rewritten (tests, diagnostics)

    def entries(self) -> list[Entry]:
        """The entries in the file (at start, before any append)."""
        with open(self.path, "rb") as f:
            lines = f.read().splitlines(keepends=True)
        entries = [Entry.parse(line) for line in lines]
        skipped = sum(e is None for e in entries)
        if skipped:
            log.warning("trigger journal %s: %d torn or corrupt line(s) skipped", self.path, skipped)
        return [e for e in entries if e is not None]

    def begin(self, seq: int) -> None:
        """Request `seq` is about to be queued for the writer (before its line is appended)."""
        with self._state:
            self._outstanding.add(seq)

    def done(self, seq: int) -> None:
        """Request `seq` is committed: its line is no longer needed (any thread). A request
        whose commit failed is `done` only once a later try commits it (api/intake.py): until
        then its line is kept, for the next start if the process ends first."""
        with self._state:
            self._outstanding.discard(seq)
            self._held.pop(seq, None)

    def state(self, seq: int) -> str:
        """Where request `seq` stands: "written" (its line is in the file: acknowledged),
        "writing" (begun, its line not written yet) or "gone" (committed, or its line could
        not be written, so its triggers were answered by the commit instead)."""
        with self._state:
            if seq in self._held:
                return "written"
            return "writing" if seq in self._outstanding else "gone"

    def append(self, seqs: Sequence[int], lines: Sequence[bytes]) -> None:
        """Write the lines and fdatasync (blocking: a worker thread). First empties the file
        when no line in it is still needed (no sync needed for that: after a crash, lines of
        committed requests are found stored and skipped), or rewrites it with only those
        when it has grown past COMPACT_AT_BYTES."""
        data = b"".join(lines)
        with self._io:
            with self._state:
                appending = set(seqs)
                needed = [line for seq, line in sorted(self._held.items()) if seq not in appending]
            kept = sum(map(len, needed))
            if not needed and self._size:
                os.ftruncate(self._fd, 0)
                self._size = 0
            elif self._size + len(data) > COMPACT_AT_BYTES and 2 * kept < self._size:
                self._rewrite(needed)
            try:
                _write_all(self._fd, data)
                os.fdatasync(self._fd)
            except OSError:
                # A full disk may have taken part of the lines: cut them off, or the next
                # append would continue a torn line and fail its checksum with it.
                with contextlib.suppress(OSError):
                    os.ftruncate(self._fd, self._size)
                with self._state:  # not acknowledged: the commit answers these triggers
                    self._outstanding.difference_update(seqs)
                raise
            self._size += len(data)
            with self._state:  # a request the writer committed meanwhile needs no line
                for seq, line in zip(seqs, lines, strict=True):
                    if seq in self._outstanding:
                        self._held[seq] = line

    def _rewrite(self, needed: list[bytes]) -> None:
        """Replace the file by one holding just `needed`, atomically: the new file is synced
        before it is renamed over the old one, and the rename before anything is appended."""
        fresh = self.path.with_name(self.path.name + ".rewrite")
        fd = os.open(fresh, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o600)
        data = b"".join(needed)
        try:
            _write_all(fd, data)
            os.fdatasync(fd)
            os.replace(fresh, self.path)
        except BaseException:
            os.close(fd)
            with contextlib.suppress(OSError):
                os.unlink(fresh)
            raise
        os.close(self._fd)  # renamed over: from now on the new file is the journal
        self._fd = fd
        self._size = len(data)
        self.rewrites += 1
        _sync_directory(self.path.parent)  # if this fails the append fails: acked once committed

    def clear(self) -> None:
        """Empty the file (at start, once every entry is in the store)."""
        with self._io:
            os.ftruncate(self._fd, 0)
            os.fsync(self._fd)
            self._size = 0
            with self._state:
                self._held.clear()

    def close(self) -> None:
        with self._io:
            os.close(self._fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:  # a regular file takes it whole, but a short write must not cut a line
        view = view[os.write(fd, view) :]


def _sync_directory(path: Path) -> None:
    """Make a rename in `path` durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
