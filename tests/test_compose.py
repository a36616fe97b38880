"""The composition root: the one Settings class carries every option, under the
environment variable names they always had, down to the parts that use them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from flowscope.api.ws.config import LiveConfig

from flowscope.compose import live_config
from flowscope.settings import Settings

WS_VARIABLES = {
    "FLOWSCOPE_WS_REORDER_WINDOW": ("reorder_window_seconds", "2.5", 2.5),
    "FLOWSCOPE_WS_QUEUE_MESSAGES": ("queue_messages", "50", 50),
    "FLOWSCOPE_WS_CLOSE_TIMEOUT": ("close_timeout_seconds", "0.5", 0.5),
    "FLOWSCOPE_WS_REPLAY_MAX_EXECUTIONS": ("replay_max_executions", "7", 7),
    "FLOWSCOPE_WS_REPLAY_MAX_EVENTS": ("replay_max_events", "9", 9),
}


@pytest.fixture(autouse=True)
def _no_flowscope_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in os.environ:
        if name.startswith("FLOWSCOPE_"):
            monkeypatch.delenv(name)


def test_live_feed_defaults_are_the_settings_defaults() -> None:
    assert live_config(Settings()) == LiveConfig()


@pytest.mark.parametrize("variable", sorted(WS_VARIABLES))
def test_live_feed_variables_reach_the_hub_config(monkeypatch: pytest.MonkeyPatch, variable: str) -> None:
    field, text, value = WS_VARIABLES[variable]
    monkeypatch.setenv(variable, text)
    config = live_config(Settings())
    assert getattr(config, field) == value
    assert {k: v for k, v in vars(config).items() if k != field} == {
        k: v for k, v in vars(LiveConfig()).items() if k != field
    }


def test_an_empty_variable_counts_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOWSCOPE_WS_QUEUE_MESSAGES", "")
    monkeypatch.setenv("FLOWSCOPE_API_PORT", "")
    settings = Settings()
    assert settings.ws_queue_messages == LiveConfig().queue_messages
    assert settings.api_port == 8000


def test_token_commands_open_the_database_the_settings_name(tmp_path: Path) -> None:
    """Without --db, `flowscope token` uses FLOWSCOPE_DB: the root passes its settings' path down."""
    db = tmp_path / "named-by-env.duckdb"
    env = {**os.environ, "FLOWSCOPE_DB": str(db)}

    def token(*args: str) -> subprocess.CompletedProcess[str]:
        cmd = [sys.executable, "-m", "flowscope", "token", *args, "--workspace", "team"]
        return subprocess.run(cmd, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)

    created = token("create", "--role", "viewer", "--create-workspace")
    assert created.returncode == 0, created.stderr
    assert db.exists() and not (tmp_path / "flowscope.duckdb").exists()
    listed = token("list")
    assert listed.returncode == 0, listed.stderr
    assert "\tviewer\t" in listed.stdout and "active" in listed.stdout
