"""Who may open which feed: tokens, workspaces by header or query, and no leaks between workspaces."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
from flowscope.api.auth import create_token
from flowscope.storage.duckdb.store import Store
from websockets.exceptions import ConnectionClosed

from tests.support.server import RunningServer, start_server
from tests.ws.support import Execution, Feed, Tracer, names, new_workflow_id, open_feed, ws_url


@dataclass
class AuthSetup:
    server: RunningServer
    team_b: str  # workspace id
    b_workflow: str  # a catalog workflow of team-b
    viewer_a: str
    editor_a: str
    viewer_b: str
    editor_b: str


@pytest.fixture(scope="module")
def auth(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthSetup]:
    db = tmp_path_factory.mktemp("auth") / "flowscope.duckdb"
    store = Store(db)  # prepared before serve: DuckDB allows one process per file
    team_b = store.catalog.create_workspace("team-b", "Team B").id
    b_workflow = store.catalog.create_workflow(
        team_b, project_id=None, name="b-flow", description=None, definition={"steps": []}
    ).id
    tokens = [
        create_token(store.catalog, ws, role)[0]
        for ws, role in (("default", "viewer"), ("default", "editor"), (team_b, "viewer"), (team_b, "editor"))
    ]
    store.close()
    server = start_server(db, "--auth", "token")
    yield AuthSetup(server, team_b, b_workflow, *tokens)
    server.terminate()


async def _close_code(url: str, headers: dict[str, str] | None = None) -> tuple[int | None, str]:
    async with open_feed(url, headers) as conn:
        try:
            message = await asyncio.wait_for(conn.recv(), 10)
        except ConnectionClosed as exc:
            assert exc.rcvd is not None
            return exc.rcvd.code, exc.rcvd.reason
        raise AssertionError(f"got a message instead of a close: {message!r}")


def test_missing_or_bad_token_closes_1008_before_any_event(auth: AuthSetup) -> None:
    wf = new_workflow_id()
    url = ws_url(auth.server.api, f"/ws/workflows/{wf}")
    code, reason = asyncio.run(_close_code(url))
    assert code == 1008 and reason.startswith("401")
    code, reason = asyncio.run(_close_code(url + "?token=fst_not-a-token"))
    assert code == 1008 and "invalid or revoked token" in reason
    code, reason = asyncio.run(_close_code(url, {"Authorization": "Bearer nope"}))
    assert code == 1008 and reason.startswith("401")


async def _replay_answer(url: str) -> tuple[str, Any]:
    """What a `since` subscription gets first: ('close', (code, reason)) or ('replay', data)."""
    async with open_feed(url) as conn:
        try:
            message = orjson.loads(await asyncio.wait_for(conn.recv(), 10))
        except ConnectionClosed as exc:
            assert exc.rcvd is not None
            return "close", (exc.rcvd.code, exc.rcvd.reason)
        assert message["event"] == "replay_complete", message
        return "replay", {k: v for k, v in message["data"].items() if k != "since"}


def test_token_of_another_workspace_is_refused_and_its_workflow_ids_are_unknown(auth: AuthSetup) -> None:
    api = auth.server.api
    # token of default asking for team-b's workspace
    code, reason = asyncio.run(
        _close_code(
            ws_url(api, f"/ws/workflows/{new_workflow_id()}", workspace_slug="team-b", token=auth.viewer_a)
        )
    )
    assert code == 1008 and reason.startswith("403")
    # team-b's workflow id from the default workspace: answered exactly like an id known
    # nowhere (an open feed, nothing to replay), so it tells nothing about team-b
    since = "2000-01-01T00:00:00Z"
    for path in (f"/ws/workflows/{auth.b_workflow}", f"/ws/workflows/{auth.b_workflow}/step/x"):
        unknown = path.replace(auth.b_workflow, new_workflow_id())
        foreign = asyncio.run(_replay_answer(ws_url(api, path, token=auth.viewer_a, since=since)))
        never_seen = asyncio.run(_replay_answer(ws_url(api, unknown, token=auth.viewer_a, since=since)))
        assert foreign == never_seen == ("replay", {"count": 0, "truncated": False, "timestamp": None})


def test_token_by_query_or_header_streams(auth: AuthSetup) -> None:
    api, otlp = auth.server.api, auth.server.otlp_http

    async def main() -> None:
        wf = auth.b_workflow
        by_query = ws_url(api, f"/ws/workflows/{wf}", workspace_id=auth.team_b, token=auth.viewer_b)
        by_header = ws_url(api, f"/ws/workflows/{wf}")
        headers = {"Authorization": f"Bearer {auth.viewer_b}", "X-Workspace-Id": auth.team_b}
        async with open_feed(by_query) as q, open_feed(by_header, headers) as h:
            tracer = Tracer(otlp, {"authorization": f"Bearer {auth.editor_b}"})
            try:

                def emit() -> None:
                    ex = Execution(tracer, wf)
                    ex.start_step("s")
                    ex.end_step("s", output={})
                    ex.end()
                    tracer.flush()

                await asyncio.to_thread(emit)
            finally:
                tracer.shutdown()
            for conn in (q, h):
                messages = await Feed(conn).until("workflow_completed")
                assert names(messages) == [
                    "workflow_started",
                    "step_started:s",
                    "step_completed:s",
                    "workflow_completed",
                ]

    asyncio.run(main())


def test_two_workspaces_do_not_leak(server: RunningServer) -> None:
    """No auth: the same (foreign) workflow id in two workspaces; each feed sees its own data only."""
    r = server.post("/api/workspaces", json={"slug": "other"})
    assert r.status_code == 201, r.text
    other = r.json()["id"]
    wf = "shared-pipeline"

    async def main() -> None:
        api = server.api
        async with (
            open_feed(ws_url(api, f"/ws/workflows/{wf}")) as default_feed,
            open_feed(ws_url(api, f"/ws/workflows/{wf}", workspace_slug="other")) as other_feed,
            open_feed(ws_url(api, f"/ws/workflows/{wf}/step/s"), {"X-Workspace-Id": other}) as other_step,
        ):
            t_default = Tracer(server.otlp_http)
            t_other = Tracer(server.otlp_http, {"x-workspace-id": other})
            ids = {}
            try:

                def emit() -> None:
                    for name, tracer in (("default", t_default), ("other", t_other)):
                        ex = Execution(tracer, wf)
                        ex.start_step("s")
                        ex.end_step("s", output={"from": name})
                        ex.end()
                        tracer.flush()
                        ids[name] = ex.execution_id

                await asyncio.to_thread(emit)
            finally:
                t_default.shutdown()
                t_other.shutdown()
            mine = await Feed(default_feed).until("workflow_completed")
            theirs = await Feed(other_feed).until("workflow_completed")
            assert {m["data"]["execution_id"] for m in mine} == {ids["default"]}
            assert {m["data"]["execution_id"] for m in theirs} == {ids["other"]}
            assert await Feed(default_feed).quiet(0.5) == []
            step = await Feed(other_step).quiet(0.5)
            assert names(step) == ["step_started:s", "step_completed:s"]
            assert step[1]["data"]["output"] == {"from": "other"}

        # A catalog workflow of `other` is, from default, just an id default never used:
        # accepted like an unknown id (subscribe before it exists), and silent.
        body = {"definition": _definition("other-only")}
        r = await asyncio.to_thread(
            server.post, "/api/workflows", json=body, headers={"X-Workspace-Id": other}
        )
        assert r.status_code == 201, r.text
        for wf_id in (r.json()["id"], new_workflow_id()):
            async with open_feed(ws_url(api, f"/ws/workflows/{wf_id}")) as conn:
                assert await Feed(conn).quiet(0.3) == []

    asyncio.run(main())


def _definition(name: str) -> dict[str, object]:
    return {
        "name": name,
        "steps": [{"id": "only", "name": "Only", "action": {"type": "delay", "params": {"seconds": 0}}}],
    }


def test_bad_since_closes_1008(server: RunningServer) -> None:
    code, reason = asyncio.run(_close_code(ws_url(server.api, "/ws/workflows/x", since="yesterday")))
    assert code == 1008 and "since" in reason


def test_shutdown_closes_feeds_with_1001(tmp_path: Path) -> None:
    srv = start_server(tmp_path / "f.duckdb")

    async def main() -> None:
        async with (
            open_feed(ws_url(srv.api, "/ws/workflows/a")) as a,
            open_feed(ws_url(srv.api, "/ws/workflows/b/step/c")) as b,
        ):
            await asyncio.sleep(0.2)
            await asyncio.to_thread(srv.process.send_signal, 15)
            for conn in (a, b):
                code, reason = await Feed(conn).close_code()
                assert code == 1001 and reason == "server shutting down"

    try:
        asyncio.run(main())
        assert srv.process.wait(30) == 0
    finally:
        srv.kill()
