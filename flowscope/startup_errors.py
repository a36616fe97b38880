"""Why `flowscope serve` cannot start, when a setting is the user's to change.

A busy port, an address the host does not have, a database file that cannot be opened and an
invalid value are not bugs: the CLI prints one line naming the flag or environment variable
to change and exits with status 2 (a usage error), instead of a traceback.
"""

from __future__ import annotations

import errno
import re
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import SecretStr, ValidationError
from pydantic_settings import SettingsError

from flowscope.settings import Settings

EXIT_STATUS = 2

Source = Literal["flag", "environment", "either"]


@dataclass(frozen=True, slots=True)
class Problem:
    setting: str  # a `Settings` field
    text: str  # one line
    source: Source = "either"  # where the value came from, when that is known


class StartupError(Exception):
    """One or more settings `serve` cannot start with."""

    def __init__(self, *problems: Problem) -> None:
        super().__init__("; ".join(f"{p.setting}: {p.text}" for p in problems))
        self.problems = problems


def one_line(text: str) -> str:
    return " ".join(text.split())


def load_settings(given: Mapping[str, Any]) -> Settings:
    """`Settings` from the flags given (None: not given) over the FLOWSCOPE_* variables; an
    invalid value raises StartupError naming the setting and where its value came from."""
    flags = {k: v for k, v in given.items() if v is not None}
    try:
        return Settings(**flags)
    except ValidationError as exc:
        raise StartupError(*(_invalid(error, flags) for error in exc.errors(include_url=False))) from None
    except SettingsError as exc:  # a list variable that is not JSON
        found = re.search(r'field "(\w+)"', str(exc))
        setting = found.group(1) if found else "settings"
        text = f'invalid value: a list is given as JSON, such as ["a", "b"] ({exc.__cause__ or exc})'
        raise StartupError(Problem(setting, one_line(text), "environment")) from None


def _invalid(error: Any, flags: Mapping[str, Any]) -> Problem:
    loc = error["loc"]
    setting = str(loc[0]) if loc else "settings"
    source: Source = "flag" if setting in flags else "environment"
    field = Settings.model_fields.get(setting)
    secret = field is not None and SecretStr in getattr(field.annotation, "__args__", (field.annotation,))
    value = "" if secret else f" {error['input']!r}"[:80]
    return Problem(setting, one_line(f"invalid value{value}: {error['msg']}"), source)


def cannot_listen(exc: OSError, host: str, port: int, setting: str) -> StartupError:
    """A listener's bind failed: the port is taken (or privileged), or the host is not ours."""
    reason = exc.strerror or str(exc)
    if isinstance(exc, socket.gaierror) or exc.errno == errno.EADDRNOTAVAIL:
        return StartupError(Problem("host", one_line(f"cannot listen on {host}: {reason}")))
    hint = " (0 picks any free port)" if exc.errno == errno.EADDRINUSE else ""
    return StartupError(Problem(setting, one_line(f"cannot listen on {host}:{port}: {reason}{hint}")))
