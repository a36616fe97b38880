"""The steps of one execution: stored step spans, plus steps still running (announced by
`workflow.step.started` records) or pending (in the catalog definition, not yet seen),
in step order, with queue/run/wait times and the critical path.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from flowscope.storage.executions import ExecutionRecords, ExecutionStep

from flowscope import conventions as c
from flowscope import workflow_meaning as m

# A predecessor may end a hair after its successor's start (clocks, rounding).
_TOLERANCE_NS = 1_000_000


@dataclass(frozen=True, slots=True)
class DefinedStep:
    """A step as the catalog's workflow definition declares it."""

    id: str
    name: str
    depends_on: tuple[str, ...]


def _announced_steps(records: ExecutionRecords, seen_spans: set[str]) -> list[ExecutionStep]:
    """Steps announced by a started record whose span has not arrived: running, or, once the
    execution ended without them, unfinished (`workflow_meaning.announced_step`)."""
    status, error = m.announced_step(records.row.status)
    started: dict[str, ExecutionStep] = {}
    retries: dict[str, set[int]] = {}
    for rec in records.lifecycle:
        key = rec.span_id or rec.step_id or ""
        if rec.event_name == c.EVENT_STEP_RETRYING:
            m.new_retry(retries.setdefault(key, set()), rec.attributes)
        if rec.event_name != c.EVENT_STEP_STARTED or rec.span_id in seen_spans:
            continue
        attrs = rec.attributes
        step_id = rec.step_id or m.step_id(attrs)
        if not step_id or key in started:
            continue
        started[key] = ExecutionStep(
            step_id=step_id,
            name=m.step_name(attrs) or step_id,
            status=status,
            order=m.integer(attrs.get(c.STEP_ORDER)),
            span_id=rec.span_id or None,
            start_ns=rec.time_ns,
            error_message=error,
            input_text=m.text(attrs.get(c.STEP_INPUT)),
            depends_on=m.string_list(attrs.get(c.STEP_DEPENDS_ON)),
        )
    return [replace(run, retry_count=len(retries.get(key, ()))) for key, run in started.items()]


def _with_definition(run: ExecutionStep, defined: tuple[int, DefinedStep] | None) -> ExecutionStep:
    """The definition's order and dependencies for a step that did not say them."""
    if defined is None or (run.order and run.depends_on):
        return run
    order, step = defined
    return replace(run, order=run.order or order, depends_on=run.depends_on or step.depends_on)


def execution_steps(records: ExecutionRecords, definition: list[DefinedStep] | None) -> list[ExecutionStep]:
    """Every step of the execution, ordered by step order (then start)."""
    seen_spans = {r.span_id for r in records.steps if r.span_id}
    runs = [*records.steps, *_announced_steps(records, seen_spans)]
    defined = {d.id: (i + 1, d) for i, d in enumerate(definition or [])}
    seen_ids = {r.step_id for r in runs}
    unseen = m.unseen_step_status(records.row.status)
    if unseen is not None:
        for step_id, (order, d) in defined.items():
            if step_id not in seen_ids:
                runs.append(ExecutionStep(step_id, d.name, unseen, order, depends_on=d.depends_on))
    runs = [_with_definition(run, defined.get(run.step_id)) for run in runs]
    # Foreign tracers may not say the order: number those steps by start time, after the rest.
    unordered = sorted((r for r in runs if r.order is None), key=lambda r: (r.start_ns or 2**64, r.name))
    next_order = max((r.order or 0 for r in runs), default=0) + 1
    numbered = {id(run): next_order + i for i, run in enumerate(unordered)}
    runs = [replace(run, order=numbered[id(run)]) if id(run) in numbered else run for run in runs]
    runs.sort(key=lambda r: (r.order or 0, r.start_ns or 2**64, r.span_id or ""))
    return runs


def _never_ran(run: ExecutionStep) -> bool:
    """Skipped steps, and steps cancelled before they ran, have no queue or run time."""
    return m.step_never_ran(run.status, run.start_ns, run.end_ns)


def _latest_by_step(runs: list[ExecutionStep]) -> dict[str, ExecutionStep]:
    latest: dict[str, ExecutionStep] = {}
    for run in runs:
        if run.end_ns is not None and (run.step_id not in latest or run.end_ns > latest[run.step_id].end_ns):  # type: ignore[operator]
            latest[run.step_id] = run
    return latest


def _predecessor(
    run: ExecutionStep, ended: dict[str, ExecutionStep], deps_known: bool
) -> ExecutionStep | None:
    """The step whose end let `run` start: its last-finishing dependency; without
    dependency information, the last step that ended before it started."""
    if run.start_ns is None:
        return None
    if deps_known:
        candidates = [ended[d] for d in run.depends_on if d in ended]
    else:
        candidates = [
            r for r in ended.values()
            if r is not run and r.end_ns is not None and r.end_ns <= run.start_ns + _TOLERANCE_NS
        ]  # fmt: skip
    return max(candidates, key=lambda r: r.end_ns or 0, default=None)


def timings(
    runs: list[ExecutionStep], execution_start_ns: int | None, deps_known: bool
) -> dict[int, tuple[float | None, float | None, float | None]]:
    """id(run) -> (queue, run, wait) seconds for steps that started."""
    ended = _latest_by_step(runs)
    starts = [r.start_ns for r in runs if r.start_ns is not None]
    origin = execution_start_ns or (min(starts) if starts else None)
    out: dict[int, tuple[float | None, float | None, float | None]] = {}
    for run in runs:
        if run.start_ns is None or _never_ran(run):
            continue
        pred = _predecessor(run, ended, deps_known)
        ready = pred.end_ns if pred is not None else origin
        if run.queued_ns is not None and run.queued_ns < run.start_ns:  # its emitter says (CI jobs)
            ready = run.queued_ns
        queue = max(0, run.start_ns - ready) / 1e9 if ready is not None else None
        duration = run.duration_ns
        if duration is None:
            out[id(run)] = (queue, None, None)
            continue
        if run.attempts:
            in_attempts = sum(max(0, a.end_ns - a.start_ns) for a in run.attempts)
            in_attempts = min(in_attempts, duration)
            out[id(run)] = (queue, in_attempts / 1e9, (duration - in_attempts) / 1e9)
        else:
            out[id(run)] = (queue, duration / 1e9, 0.0)
    return out


def critical_path(runs: list[ExecutionStep], deps_known: bool) -> list[str]:
    """Step ids from the first to the last-finishing step along the chain of
    predecessors that each step waited for."""
    ended = _latest_by_step([r for r in runs if not _never_ran(r)])
    if not ended:
        return []
    current: ExecutionStep | None = max(ended.values(), key=lambda r: r.end_ns or 0)
    path: list[str] = []
    while current is not None and current.step_id not in path:
        path.append(current.step_id)
        current = _predecessor(current, ended, deps_known)
    return path[::-1]


def dependencies_known(runs: list[ExecutionStep], definition: list[DefinedStep] | None) -> bool:
    """Whether the steps' dependencies are known (definition or `workflow.step.depends_on`);
    otherwise timings and the critical path infer predecessors from times."""
    return definition is not None or any(r.depends_declared or r.depends_on for r in runs)
