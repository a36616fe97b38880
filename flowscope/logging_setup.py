"""The process's one log handler, which never writes a token (issue 15, finding 14).

Every logger, uvicorn's included (serve gives uvicorn no logging config of its own), ends
at the root handler installed here, and its formatter rewrites each finished line,
tracebacks included: a WebSocket URL's `?token=…`, an `Authorization: Bearer …` value and
anything shaped like a Flowscope secret are replaced by `[REDACTED]`.
"""

from __future__ import annotations

import logging
import re

REDACTED = "[REDACTED]"
_RULES: list[tuple[re.Pattern[str], str]] = [
    # User tokens (api/auth.py TOKEN_PREFIX) and the engine's internal credential
    # (flowscope/compose.py), wherever they appear: the prefix stays, to tell which kind leaked.
    (re.compile(r"\b(fs[ti]_)[A-Za-z0-9_-]+"), rf"\1{REDACTED}"),
    # Query parameters named token, access_token, api-token...
    (re.compile(r"(?i)\b([\w-]*token=)[^&\s\"'#]+"), rf"\1{REDACTED}"),
    (re.compile(r"(?i)\b(bearer\s+)[^\s\"',;]+"), rf"\1{REDACTED}"),
]


def redact(text: str) -> str:
    for pattern, replacement in _RULES:
        text = pattern.sub(replacement, text)
    return text


class RedactingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def configure_logging(level: str) -> None:
    """Replace the root handlers by one stderr handler that redacts; set the level."""
    handler = logging.StreamHandler()
    handler.setFormatter(RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for old in root.handlers[:]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
