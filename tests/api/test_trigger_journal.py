"""Pure logic of the trigger journal (api/journal.py) and the visibility barrier
(api/visibility.py): what survives in the file, when it is emptied, and when a read waits."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import cast

import pytest
from flowscope.api.journal import COMPACT_AT_BYTES, Entry, TriggerJournal
from flowscope.api.visibility import VisibilityBarrier
from flowscope.storage.changes import CommittedBatch, WorkflowLogRecord, WorkflowSpan
from flowscope.storage.executions import ExecutionRecords

from flowscope.conventions import EVENT_EXECUTION_QUEUED, EVENT_EXECUTION_STARTED


def _entry(n: int) -> Entry:
    return Entry("ws-1", [f"{n:032x}"], {"wf-1": n + 1}, bytes(range(256)) * 3)


def test_entries_round_trip_and_a_torn_last_line_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "db.triggers"
    journal = TriggerJournal(path)
    journal.begin(1)
    journal.begin(2)
    journal.append([1, 2], [_entry(1).line(), _entry(2).line()])
    journal.close()
    with open(path, "ab") as f:  # a crash in the middle of the next append
        f.write(_entry(3).line()[:40])
    assert TriggerJournal(path).entries() == [_entry(1), _entry(2)]


def test_a_corrupt_line_is_skipped_and_the_others_kept(tmp_path: Path) -> None:
    path = tmp_path / "db.triggers"
    lines = [_entry(n).line() for n in (1, 2, 3)]
    lines[1] = lines[1].replace(b"wf-1", b"wf-9")  # checksum no longer matches
    path.write_bytes(b"".join(lines))
    assert TriggerJournal(path).entries() == [_entry(1), _entry(3)]


def test_the_file_is_emptied_only_once_every_earlier_line_is_committed(tmp_path: Path) -> None:
    path = tmp_path / "db.triggers"
    journal = TriggerJournal(path)
    journal.begin(1)
    journal.append([1], [_entry(1).line()])
    journal.begin(2)
    journal.append([2], [_entry(2).line()])  # 1 not committed: kept
    assert journal.entries() == [_entry(1), _entry(2)]
    journal.done(1)
    journal.begin(3)
    journal.append([3], [_entry(3).line()])  # 2 not committed: kept
    assert journal.entries() == [_entry(1), _entry(2), _entry(3)]
    journal.done(2)
    journal.done(3)
    journal.begin(4)
    journal.append([4], [_entry(4).line()])  # all earlier committed: only the new line
    assert journal.entries() == [_entry(4)]
    journal.clear()
    assert journal.entries() == []
    journal.close()


def test_a_read_waits_for_the_triggers_before_it_and_only_those() -> None:
    barrier = VisibilityBarrier(timeout_seconds=30)

    async def main() -> None:
        await asyncio.wait_for(barrier.wait("ws-1"), 1)  # nothing pending: at once
        first = barrier.begin("ws-1")
        other = barrier.begin("ws-2")
        read = asyncio.create_task(barrier.wait("ws-1"))
        await asyncio.sleep(0.05)
        later = barrier.begin("ws-1")  # after the read: not waited for
        assert not read.done()
        barrier.settle("ws-2", other)  # another workspace's commit
        await asyncio.sleep(0.05)
        assert not read.done()
        # Settled from another thread, as the writer does.
        threading.Thread(target=barrier.settle, args=("ws-1", first)).start()
        await asyncio.wait_for(read, 5)
        assert barrier.pending("ws-1") == 1
        barrier.settle("ws-1", later)
        assert barrier.pending("ws-1") == 0

    asyncio.run(main())


def test_a_read_that_waits_asks_the_writer_to_hurry() -> None:
    """The writer may pace its commits (storage/duckdb/pacing.py); a read waiting for one
    tells it not to, and a read that need not wait does not."""
    hurried: list[int] = []
    barrier = VisibilityBarrier(timeout_seconds=30, hurry=lambda: hurried.append(1))

    async def main() -> None:
        await barrier.wait("ws-1")  # nothing pending
        assert hurried == []
        seq = barrier.begin("ws-1")
        read = asyncio.create_task(barrier.wait("ws-1"))
        while not hurried and not read.done():
            await asyncio.sleep(0)
        assert hurried == [1] and not read.done()
        barrier.settle("ws-1", seq)
        await asyncio.wait_for(read, 5)

    asyncio.run(main())


def test_a_read_stops_waiting_after_the_timeout() -> None:
    barrier = VisibilityBarrier(timeout_seconds=0.1)

    async def main() -> None:
        barrier.begin("ws-1")
        await asyncio.wait_for(barrier.wait("ws-1"), 5)  # returns (reads what is stored)

    asyncio.run(main())


@pytest.mark.parametrize("size", [0, 1])
def test_an_empty_or_missing_journal_has_no_entries(tmp_path: Path, size: int) -> None:
    path = tmp_path / "db.triggers"
    if size:
        path.write_bytes(b"\n")
    assert TriggerJournal(path).entries() == []


def _sizes_while_triggering(
    journal: TriggerJournal, path: Path, count: int, lag: int, failed: Sequence[Entry] = ()
) -> list[int]:
    """`count` appends, each committed `lag` appends later (sustained triggers: some earlier
    line is always waiting for its commit); the file's size after each. Right after each
    rewrite the file holds just the lines not committed: the `failed` ones, then the latest."""
    sizes = []
    for seq in range(1, count + 1):
        journal.begin(seq)
        rewrites = journal.rewrites
        journal.append([seq], [_entry(seq).line()])
        if journal.rewrites != rewrites:
            latest = [_entry(n) for n in range(max(1, seq - lag), seq + 1)]
            assert journal.entries() == [*failed, *latest]
        if seq > lag:
            journal.done(seq - lag)
        sizes.append(path.stat().st_size)
    return sizes


def test_under_sustained_triggers_the_file_is_rewritten_with_only_the_lines_still_needed(
    tmp_path: Path,
) -> None:
    path = tmp_path / "db.triggers"
    journal = TriggerJournal(path)
    line = len(_entry(1).line())
    count = 3 * COMPACT_AT_BYTES // line  # three times the rewrite threshold
    sizes = _sizes_while_triggering(journal, path, count, lag=3)
    assert journal.rewrites >= 2
    assert max(sizes) <= COMPACT_AT_BYTES + 4 * line
    # Every line not committed yet is in the file, last, in order (with committed ones
    # appended since the last rewrite: replay finds those stored and skips them).
    needed = [_entry(n) for n in range(count - 2, count + 1)]
    assert journal.entries()[-3:] == needed
    assert not list(tmp_path.glob("*.rewrite"))
    journal.close()
    assert TriggerJournal(path).entries()[-3:] == needed


def test_a_line_whose_commit_failed_is_kept_through_rewrites_and_the_file_stays_bounded(
    tmp_path: Path,
) -> None:
    path = tmp_path / "db.triggers"
    journal = TriggerJournal(path)
    journal.begin(0)
    journal.append([0], [_entry(0).line()])  # its commit fails: never done
    line = len(_entry(1).line())
    count = 3 * COMPACT_AT_BYTES // line
    sizes = _sizes_while_triggering(journal, path, count, lag=0, failed=[_entry(0)])  # others commit
    assert journal.rewrites >= 2
    assert max(sizes) <= COMPACT_AT_BYTES + 2 * line
    entries = journal.entries()
    assert entries[0] == _entry(0) and entries[-1] == _entry(count)
    journal.close()


def test_a_request_committed_before_its_line_is_written_holds_no_line(tmp_path: Path) -> None:
    path = tmp_path / "db.triggers"
    journal = TriggerJournal(path)
    journal.begin(1)
    journal.done(1)  # the writer was faster than the journal's sync
    journal.append([1], [_entry(1).line()])
    journal.begin(2)
    journal.append([2], [_entry(2).line()])  # nothing earlier is needed: emptied first
    assert journal.entries() == [_entry(2)]
    journal.close()


def test_a_request_is_writing_then_written_until_committed(tmp_path: Path) -> None:
    """What api/intake.py's later tries ask: a failed commit is tried again only while its
    line is in the file (acknowledged), or about to be."""
    journal = TriggerJournal(tmp_path / "db.triggers")
    journal.begin(1)
    assert journal.state(1) == "writing"
    journal.append([1], [_entry(1).line()])
    assert journal.state(1) == "written"
    journal.done(1)
    assert journal.state(1) == "gone"
    journal.close()


def test_a_request_whose_line_could_not_be_written_is_gone() -> None:
    """The append failed (a full disk: /dev/full answers ENOSPC), so execute answered with the
    commit's outcome instead: nothing is acknowledged that a later try should commit."""
    journal = TriggerJournal(Path("/dev/full"))
    journal.begin(1)
    with pytest.raises(OSError):
        journal.append([1], [_entry(1).line()])
    assert journal.state(1) == "gone"
    journal.close()


# --- executions kept once committed (VisibilityBarrier keep_seconds) ----------------------

_KEPT = {"ex-1": cast(ExecutionRecords, "records of ex-1"), "ex-2": cast(ExecutionRecords, "records of ex-2")}


def _record(execution_id: str, event_name: str) -> WorkflowLogRecord:
    return WorkflowLogRecord(
        "ws-1", hash((execution_id, event_name)), event_name, 1, execution_id, "", None, {}
    )


def _span(execution_id: str) -> WorkflowSpan:
    return WorkflowSpan("ws-1", execution_id, "s1", "", "process", "step", 1, 2, 0, "", {})


def _commit(*, spans: Sequence[WorkflowSpan] = (), logs: Sequence[WorkflowLogRecord] = ()) -> CommittedBatch:
    return CommittedBatch(1, None, len(logs), list(spans), list(logs))


def test_a_committed_execution_is_kept_until_a_later_commit_changes_it() -> None:
    barrier = VisibilityBarrier(keep_seconds=60)
    seq = barrier.begin("ws-1", _KEPT)
    barrier.changed(_commit(logs=[_record("ex-1", EVENT_EXECUTION_QUEUED)]))  # its own record
    barrier.settle("ws-1", seq, committed=True)
    assert barrier.acknowledged("ws-1", "ex-1") == "records of ex-1"
    assert barrier.acknowledged("ws-2", "ex-1") is None  # another workspace's read
    # The engine's exported copy of the queued record changes nothing.
    barrier.changed(_commit(logs=[_record("ex-1", EVENT_EXECUTION_QUEUED)]))
    assert barrier.acknowledged("ws-1", "ex-1") == "records of ex-1"
    barrier.changed(_commit(logs=[_record("ex-1", EVENT_EXECUTION_STARTED)]))
    assert barrier.acknowledged("ws-1", "ex-1") is None
    assert barrier.acknowledged("ws-1", "ex-2") == "records of ex-2"
    barrier.changed(_commit(spans=[_span("ex-2")]))  # a span of its trace, no record
    assert barrier.acknowledged("ws-1", "ex-2") is None


def test_an_execution_changed_in_the_commit_of_its_trigger_is_not_kept() -> None:
    """The engine's started record may share a commit with the trigger's queued one."""
    barrier = VisibilityBarrier(keep_seconds=60)
    seq = barrier.begin("ws-1", _KEPT)
    barrier.changed(
        _commit(logs=[_record("ex-1", EVENT_EXECUTION_QUEUED), _record("ex-1", EVENT_EXECUTION_STARTED)])
    )
    assert barrier.acknowledged("ws-1", "ex-1") == "records of ex-1"  # in flight: as acknowledged
    barrier.settle("ws-1", seq, committed=True)
    assert barrier.acknowledged("ws-1", "ex-1") is None
    assert barrier.acknowledged("ws-1", "ex-2") == "records of ex-2"


def test_nothing_is_kept_after_a_failed_commit_or_without_keep_seconds() -> None:
    keeping, plain = VisibilityBarrier(keep_seconds=60), VisibilityBarrier()
    failed = keeping.begin("ws-1", _KEPT)
    keeping.settle("ws-1", failed, committed=False)
    committed = plain.begin("ws-1", _KEPT)
    plain.settle("ws-1", committed, committed=True)
    assert {keeping.acknowledged("ws-1", "ex-1"), plain.acknowledged("ws-1", "ex-1")} == {None}


def test_kept_executions_are_bounded_in_number_and_time() -> None:
    barrier = VisibilityBarrier(keep_seconds=60, keep_max=2)
    for n in range(3):
        barrier.settle("ws-1", barrier.begin("ws-1", {f"ex-{n}": cast(ExecutionRecords, n)}), committed=True)
    assert [barrier.acknowledged("ws-1", f"ex-{n}") for n in range(3)] == [None, 1, 2]  # the oldest went
    brief = VisibilityBarrier(keep_seconds=0.05)
    brief.settle("ws-1", brief.begin("ws-1", _KEPT), committed=True)
    assert brief.acknowledged("ws-1", "ex-1") == "records of ex-1"
    deadline = time.monotonic() + 5
    while brief.acknowledged("ws-1", "ex-1") is not None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert brief.acknowledged("ws-1", "ex-1") is None
