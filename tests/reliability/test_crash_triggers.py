"""SIGKILL `flowscope serve` right after execute's 202s, before the writer committed them
(the server commits slowly: `FLOWSCOPE_COMMIT_DELAY_SECONDS`), then restart it on the same file:
every acknowledged execution is there (the trigger journal is replayed: api/journal.py),
closed as interrupted since it never finished, and the numbers go on without a gap or a
repeat. "Data acknowledged is data kept" holds although execute no longer waits for the
commit."""

from __future__ import annotations

from pathlib import Path

from tests.api.client import Api
from tests.api.workflows import SEQUENCE
from tests.support.server import start_server

COMMIT_DELAY_S = 3.0


def test_executions_acknowledged_before_a_crash_are_kept(tmp_path: Path) -> None:
    db = tmp_path / "flowscope.duckdb"
    first = start_server(db, env={"FLOWSCOPE_COMMIT_DELAY_SECONDS": str(COMMIT_DELAY_S)})
    try:
        api = Api(first.api)
        wf = api.create_workflow(SEQUENCE)
        acknowledged = [api.execute(wf["id"]) for _ in range(5)]
        bulk = api.post(f"/api/workflows/{wf['id']}/execute", json={"input_sets": [{}, {}, {}]})
        acknowledged += api.ok(bulk, 202)["executions"]
    finally:
        first.kill()  # within the first commit's delay: nothing of these was committed
    assert [s["execution_number"] for s in acknowledged] == list(range(1, 9))

    second = start_server(db)
    try:
        assert "acknowledged execution(s) a crash left uncommitted" in second.log
        api = Api(second.api)
        for started in acknowledged:
            details = api.wait(started["id"], statuses={"failed"})
            assert details["execution_number"] == started["execution_number"]
            assert "interrupted" in (details["error_message"] or "")
        listed = api.ok(api.get(f"/api/workflows/{wf['id']}/executions", params={"limit": 100}))
        assert sorted(i["id"] for i in listed["items"]) == sorted(s["id"] for s in acknowledged)
        assert api.ok(api.get(f"/api/workflows/{wf['id']}"))["execution_count"] == 8
        after = api.execute(wf["id"])
        assert after["execution_number"] == 9
        assert api.wait(after["id"])["status"] == "completed"
    finally:
        assert second.terminate() == 0
    # A clean stop leaves nothing to replay: a third start stores nothing again.
    third = start_server(db)
    try:
        assert "a crash left uncommitted" not in third.log
        assert Api(third.api).ok(Api(third.api).get(f"/api/workflows/{wf['id']}"))["execution_count"] == 9
    finally:
        assert third.terminate() == 0
