"""The server's sandbox directory: the only place step actions may read and write files.

It is private to one server (mode 0700, owned by the server's user) and never holds
anything of the server's own: by default it is `<db file>.sandbox/` next to the database,
and a configured one that is or contains the database's directory is refused at startup
(an editor could otherwise read the WAL or delete the database through SQL). Each
workspace gets its own part, `<sandbox>/workspaces/<workspace id>/` (`workspace_dir`): the
`sql` action's DuckDB is locked to it and the example pipeline helpers keep their work
directories in it, so one workspace's steps cannot read another's files. `confine` is the
one rule for paths a definition gives.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

SANDBOX_SUFFIX = ".sandbox"
# Files DuckDB keeps next to its database (`<db>.wal`, the `<db>.tmp/` spill directory).
_DB_COMPANIONS = ("", ".wal", ".tmp")
_WORKSPACE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")


class SandboxDirError(ValueError):
    """The configured sandbox directory cannot be used (one line, shown at startup)."""


class OutsideSandbox(PermissionError):
    """A path a definition gave is not inside the directory it must stay in."""


def default_sandbox_dir(db: Path) -> Path:
    return db.with_name(db.name + SANDBOX_SUFFIX)


def prepare_sandbox(configured: Path | None, db: Path) -> Path:
    """The resolved sandbox for a server on `db`, created (0700) if missing; SandboxDirError
    when it would expose the server's files or other users' (checked before anything is made)."""
    db = db.expanduser().resolve()
    sandbox = (configured.expanduser() if configured else default_sandbox_dir(db)).resolve()
    state = db.parent
    if state.is_relative_to(sandbox):
        raise SandboxDirError(
            f"sandbox directory {sandbox} contains the database {db}: choose a directory that "
            "does not hold the server's files (FLOWSCOPE_SANDBOX_DIR / --sandbox-dir)"
        )
    if sandbox in {db.with_name(db.name + suffix) for suffix in _DB_COMPANIONS}:
        raise SandboxDirError(f"sandbox directory {sandbox} is one of the database's own files")
    if not sandbox.exists():
        try:
            sandbox.mkdir(mode=0o700, parents=True)
            os.chmod(sandbox, 0o700)  # whatever the umask
        except OSError as exc:
            raise SandboxDirError(f"cannot create sandbox directory {sandbox}: {exc}") from None
        return sandbox
    info = sandbox.stat()
    if not stat.S_ISDIR(info.st_mode):
        raise SandboxDirError(f"sandbox directory {sandbox} exists and is not a directory")
    if info.st_uid != os.geteuid():
        raise SandboxDirError(f"sandbox directory {sandbox} belongs to another user (uid {info.st_uid})")
    if info.st_mode & 0o077:
        raise SandboxDirError(
            f"sandbox directory {sandbox} is open to other users (mode {stat.S_IMODE(info.st_mode):04o}): "
            "make it private (chmod 700) or choose another"
        )
    return sandbox


def workspace_dir(sandbox: Path, workspace_id: str) -> Path:
    """`<sandbox>/workspaces/<workspace id>`, created private: all of the sandbox one
    workspace's steps may use."""
    if not _WORKSPACE_ID.fullmatch(workspace_id) or workspace_id in {".", ".."}:
        raise OutsideSandbox(f"workspace id '{workspace_id}' cannot name a directory")
    path = Path(sandbox).resolve() / "workspaces" / workspace_id
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def confine(raw: str, root: Path, *, what: str, also: tuple[Path, ...] = ()) -> Path:
    """`raw` resolved (relative to `root`, symlinks followed) if it stays inside `root` or one of
    `also`; OutsideSandbox otherwise. The answer does not depend on whether the path exists, so
    it cannot be used to probe the file system."""
    path = Path(raw)
    if ".." in path.parts:
        raise OutsideSandbox(f"{what} '{raw}' must not contain '..'")
    resolved = (root / path).resolve()  # an absolute `path` replaces root
    if not any(resolved.is_relative_to(r.resolve()) for r in (root, *also)):
        inside = " or ".join(str(r) for r in (root, *also))
        raise OutsideSandbox(f"{what} '{raw}' is outside {inside}")
    return resolved
