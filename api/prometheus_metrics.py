"""Span metrics and workflow metrics on GET /metrics, updated from the event bus at ingest.

Span metrics match the OpenTelemetry Collector's spanmetrics connector (Prometheus
names `traces_span_metrics_calls_total` and `traces_span_metrics_duration_milliseconds`,
labels `service_name`, `span_name`, `span_kind`, `status_code` with the connector's
values and default buckets), so existing RED dashboards work; a `workspace` label is
added for tenancy. Workflow metrics carry `workspace` and `workflow` (never an
execution id: bounded cardinality).

Everything is cumulative and only grows: commits add to it, retention never subtracts.

Label sets are bounded as the spanmetrics connector's `aggregation_cardinality_limit`
(and the OTel metrics SDK's cardinality limit) bound them: in each family, a workspace's
first `limit - 1` label sets get their own series; any later one is counted in that
workspace's one overflow series, labelled `workspace` and `otel_metric_overflow="true"`
only (the other labels are what overflowed). So totals stay right, memory and /metrics
stay bounded (families x workspaces x limit), and one workspace's flood of span names
or workflow ids never pushes another's series into overflow. First come, first kept:
a kept series never moves into overflow, so counters stay monotonic. With an expiry,
series not updated for that long are dropped (their memory freed, their slot reusable);
one that comes back starts again from zero, which Prometheus reads as a counter reset.
The change feed calls back on its own delivery thread, which falls behind (and drops
batches) if a fold is slow, so a batch is folded in with pyarrow (group_by over the
batch's promoted columns: O(batch) in C, O(groups) in Python), never span by span.
Running/pending executions are a gauge read from the store at scrape time
(`store.workflow_metrics.open_counts`), since OTLP has no in-progress spans.
"""

from __future__ import annotations

import logging
import threading
import time
from bisect import bisect_left
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Generic, TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from flowscope.api.context import AppContext
from flowscope.storage.changes import CommittedBatch
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from flowscope import workflow_meaning as m

log = logging.getLogger(__name__)

SPAN_KIND = {
    0: "SPAN_KIND_UNSPECIFIED", 1: "SPAN_KIND_INTERNAL", 2: "SPAN_KIND_SERVER",
    3: "SPAN_KIND_CLIENT", 4: "SPAN_KIND_PRODUCER", 5: "SPAN_KIND_CONSUMER",
}  # fmt: skip
STATUS_CODE = {0: "STATUS_CODE_UNSET", 1: "STATUS_CODE_OK", 2: "STATUS_CODE_ERROR"}
# The spanmetrics connector's default histogram buckets, in milliseconds.
SPAN_BUCKETS_MS = (2, 4, 6, 8, 10, 50, 100, 200, 400, 800, 1000, 1400, 2000, 5000, 10_000, 15_000)
EXECUTION_BUCKETS_S = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)
STEP_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900)

SPAN_LABELS = ("workspace", "service_name", "span_name", "span_kind", "status_code")
EXECUTION_LABELS = ("workspace", "workflow", "status")
STEP_LABELS = ("workspace", "workflow", "step", "status")
RETRY_LABELS = ("workspace", "workflow", "step")

OVERFLOW_LABEL = "otel_metric_overflow"  # OTel's `otel.metric.overflow`, as Prometheus spells it
DEFAULT_SERIES_LIMIT = 2000  # the OTel metrics SDK's default cardinality limit

# The scalars the vectorized fold compares and fills with, typed once: given a Python value,
# pyarrow infers its type on every call, and its inference tries to import
# dateutil.relativedelta each time (a failed import scanning sys.path where dateutil is not
# installed): ~150-400 us per compute call, most of a batch's fold.
_NS_PER_MS = pa.scalar(1e6, pa.float64())
_NS_PER_S = pa.scalar(1e9, pa.float64())
_NO_STEP = pa.scalar("", pa.string())
_UNKNOWN_STATUS = pa.scalar("unknown", pa.string())
_EXECUTION_ROLE = pa.scalar(m.EXECUTION, pa.string())
_STEP_ROLE = pa.scalar(m.STEP, pa.string())
_NO_RETRIES = pa.scalar(0, pa.int32())
SMALL_BATCH = 256  # spans; up to here a batch is folded row by row
_FOLD_COLUMNS = (
    "workspace_id", "service_name", "name", "kind", "status_code", "duration_ns",
    "span_role", "workflow_id", "step_id", "step_status", "retry_count",
)  # fmt: skip

V = TypeVar("V")


class SeriesTable(Generic[V]):
    """The series of one family, keyed by label values with the workspace first: at most
    `limit` per workspace, its overflow series included (see the module docstring)."""

    def __init__(self, make: Callable[[], V], limit: int, expiry_seconds: float = 0.0) -> None:
        self._make = make
        self._limit = limit
        self._expiry = expiry_seconds
        self.series: dict[tuple[Any, ...], V] = {}
        self.overflow: dict[str, V] = {}  # workspace -> its overflow series
        self._per_workspace: dict[str, int] = {}
        self._touched: dict[tuple[Any, ...], float] = {}  # with an expiry: key ((ws,) = overflow) -> when

    def get(self, key: tuple[Any, ...]) -> V:
        """The series of `key`, made if the workspace has room, else the workspace's overflow."""
        value = self.series.get(key)
        if value is None:
            workspace = key[0]
            count = self._per_workspace.get(workspace, 0)
            if count < self._limit - 1:
                value = self.series[key] = self._make()
                self._per_workspace[workspace] = count + 1
            else:
                value = self.overflow.get(workspace)
                if value is None:
                    value = self.overflow[workspace] = self._make()
                key = (workspace,)
        if self._expiry:
            self._touched[key] = time.monotonic()
        return value

    def admitted(self, key: tuple[Any, ...]) -> bool:
        return key in self.series

    def expire(self, now: float) -> int:
        """Drop the series not updated within the expiry; returns how many."""
        if not self._expiry:
            return 0
        cutoff = now - self._expiry
        stale = [key for key, at in self._touched.items() if at < cutoff]
        for key in stale:
            del self._touched[key]
            if len(key) == 1:
                self.overflow.pop(key[0], None)
            elif self.series.pop(key, None) is not None:
                left = self._per_workspace[key[0]] - 1
                if left:
                    self._per_workspace[key[0]] = left
                else:
                    del self._per_workspace[key[0]]
        if stale:  # rebuilt: a dict keeps its size after deletions
            self.series, self._touched = dict(self.series), dict(self._touched)
        return len(stale)

    def __len__(self) -> int:
        return len(self.series) + len(self.overflow)


def _add_overflow(family: Metric, workspace: str, *value: Any) -> None:
    """Append `workspace`'s overflow series to `family` (its own label set: workspace and
    otel_metric_overflow="true"; Prometheus allows label sets to differ within a family)."""
    extra = type(family)(family.name, family.documentation, labels=["workspace", OVERFLOW_LABEL])
    extra.add_metric([workspace, "true"], *value)
    family.samples.extend(extra.samples)


class Histograms:
    """Cumulative histograms keyed by label values (workspace first), bounded per workspace."""

    def __init__(
        self, buckets: Sequence[float], limit: int = DEFAULT_SERIES_LIMIT, expiry: float = 0.0
    ) -> None:
        self.buckets = tuple(float(b) for b in buckets)
        self._bounds = np.array(self.buckets, dtype=np.float64)
        # labels -> [per-bucket counts (last = +Inf), sum]
        self.table: SeriesTable[tuple[list[int], list[float]]] = SeriesTable(
            lambda: ([0] * (len(self.buckets) + 1), [0.0]), limit, expiry
        )

    def _series(self, key: tuple[Any, ...]) -> tuple[list[int], list[float]]:
        return self.table.get(key)

    def items(self) -> Iterator[tuple[tuple[Any, ...] | str, tuple[list[int], list[float]]]]:
        """(label values, series) sorted, then (workspace, overflow series) sorted."""
        yield from sorted(self.table.series.items())
        yield from sorted(self.table.overflow.items())

    def observe(self, key: tuple[Any, ...], value: float) -> None:
        counts, total = self._series(key)
        counts[bisect_left(self.buckets, value)] += 1  # first bound >= value: `le` is inclusive
        total[0] += value

    def add(self, table: pa.Table, label_columns: list[str], value: pa.Array) -> None:
        """Fold `value` (one per row) into the series of each row's labels, vectorized."""
        # Bucket index = how many bounds the value exceeds (bisect_left, as `observe`).
        index = np.searchsorted(self._bounds, value.to_numpy(zero_copy_only=False), side="left")
        work = table.select(label_columns).append_column("_v", value).append_column("_b", pa.array(index))
        grouped = work.group_by([*label_columns, "_b"]).aggregate([("_v", "sum"), ("_v", "count")])
        keys = [grouped.column(name).to_pylist() for name in label_columns]
        buckets = grouped.column("_b").to_pylist()
        sums = grouped.column("_v_sum").to_pylist()
        counts = grouped.column("_v_count").to_pylist()
        labels = zip(*keys, strict=True)  # each row's label values
        for key, bucket, count, total in zip(labels, buckets, counts, sums, strict=True):
            series = self._series(key)
            series[0][bucket] += count
            series[1][0] += total or 0.0

    def family(self, name: str, doc: str, labels: Sequence[str], translate: Any = None) -> Metric:
        family = HistogramMetricFamily(name, doc, labels=list(labels))
        for key, (counts, total) in self.items():
            running, cumulative = 0, []
            for bound, n in zip((*self.buckets, float("inf")), counts, strict=True):
                running += n
                cumulative.append((_le(bound), running))
            if isinstance(key, str):
                _add_overflow(family, key, cumulative, total[0])
            else:
                family.add_metric(list(translate(key) if translate else key), cumulative, total[0])
        return family


def _le(bound: float) -> str:
    if bound == float("inf"):
        return "+Inf"
    return str(int(bound)) if bound.is_integer() else str(bound)


def _span_key(key: tuple[Any, ...]) -> tuple[str, ...]:
    workspace, service, name, kind, status = key
    return (
        workspace,
        service,
        name,
        SPAN_KIND.get(kind, "SPAN_KIND_UNSPECIFIED"),
        STATUS_CODE.get(status, ""),
    )


class WorkflowMetrics(Collector):
    """Owns the cumulative state; `on_batch` is the bus subscriber, `collect` the scrape."""

    def __init__(
        self, context: AppContext, series_limit: int = DEFAULT_SERIES_LIMIT, expiry_seconds: float = 0.0
    ) -> None:
        self._context = context
        self._lock = threading.Lock()
        limit, expiry = series_limit, expiry_seconds
        self._span_durations = Histograms(SPAN_BUCKETS_MS, limit, expiry)
        self._execution_durations = Histograms(EXECUTION_BUCKETS_S, limit, expiry)
        self._step_durations = Histograms(STEP_BUCKETS_S, limit, expiry)
        self._retries: SeriesTable[list[int]] = SeriesTable(lambda: [0], limit, expiry)
        # (workspace, workflow) -> [name or None]: the workflows the info and active gauges report
        self._workflows: SeriesTable[list[str | None]] = SeriesTable(lambda: [None], limit, expiry)
        self._tables = (
            self._span_durations.table, self._execution_durations.table, self._step_durations.table,
            self._retries, self._workflows,
        )  # fmt: skip
        self._expiry = expiry
        self._next_sweep = 0.0

    # --- ingest side (the change feed's delivery thread) -------------------------

    def on_batch(self, batch: CommittedBatch) -> None:
        spans = batch.spans
        with self._lock:
            self._sweep()
            if batch.remote:  # another node's commit: that node counts it; names only here
                self._learn_names(batch)
                return
            if spans is not None and spans.num_rows:
                self._fold_spans(spans)
            if batch.replaced_steps is not None:
                self._take_back_retries(batch.replaced_steps)
            self._learn_names(batch)

    def _sweep(self) -> None:
        """Expire idle series, at most every tenth of the expiry (and every minute at most)."""
        if not self._expiry:
            return
        now = time.monotonic()
        if now >= self._next_sweep:
            self._next_sweep = now + min(60.0, self._expiry / 10)
            for table in self._tables:
                table.expire(now)

    def series_count(self) -> int:
        """Series held, overflow series included (what the limit bounds)."""
        with self._lock:
            return sum(len(table) for table in self._tables)

    def _fold_spans(self, spans: pa.Table) -> None:
        # Vectorizing has a fixed cost of ~1 ms a batch: small batches (low load, when
        # the writer commits often) are cheaper row by row.
        if spans.num_rows <= SMALL_BATCH:
            self._fold_rows(spans)
        else:
            self._fold_columns(spans)

    def _fold_rows(self, spans: pa.Table) -> None:
        cols = [spans.column(name).to_pylist() for name in _FOLD_COLUMNS]
        for ws, svc, name, kind, status, dur, role, wf, step, step_status, retries in zip(*cols, strict=True):
            self._span_durations.observe((ws, svc, name, kind, status), dur / 1e6)
            if wf is None:
                continue
            if role == m.EXECUTION:
                self._execution_durations.observe((ws, wf, step_status or "unknown"), dur / 1e9)
            elif role == m.STEP:
                step = step or ""
                self._step_durations.observe((ws, wf, step, step_status or "unknown"), dur / 1e9)
                self._retries.get((ws, wf, step))[0] += retries or 0

    def _fold_columns(self, spans: pa.Table) -> None:
        duration_ms = pc.divide(pc.cast(spans.column("duration_ns"), pa.float64()), _NS_PER_MS)
        self._span_durations.add(
            spans, ["workspace_id", "service_name", "name", "kind", "status_code"], duration_ms
        )
        role = spans.column("span_role")
        has_workflow = pc.is_valid(spans.column("workflow_id"))
        spans = spans.select(
            ["workspace_id", "workflow_id", "step_id", "step_status", "retry_count", "duration_ns"]
        )
        spans = spans.set_column(2, "step_id", pc.fill_null(spans.column("step_id"), _NO_STEP))
        spans = spans.set_column(3, "step_status", pc.fill_null(spans.column("step_status"), _UNKNOWN_STATUS))
        executions = spans.filter(pc.and_(pc.equal(role, _EXECUTION_ROLE), has_workflow))
        if executions.num_rows:
            seconds = pc.divide(pc.cast(executions.column("duration_ns"), pa.float64()), _NS_PER_S)
            self._execution_durations.add(executions, ["workspace_id", "workflow_id", "step_status"], seconds)
        steps = spans.filter(pc.and_(pc.equal(role, _STEP_ROLE), has_workflow))
        if steps.num_rows:
            seconds = pc.divide(pc.cast(steps.column("duration_ns"), pa.float64()), _NS_PER_S)
            self._step_durations.add(
                steps, ["workspace_id", "workflow_id", "step_id", "step_status"], seconds
            )
            retries = (
                steps.select(["workspace_id", "workflow_id", "step_id"])
                .append_column("retry", pc.fill_null(steps.column("retry_count"), _NO_RETRIES))
                .group_by(["workspace_id", "workflow_id", "step_id"])
                .aggregate([("retry", "sum")])
            )
            for ws, wf, step, n in zip(*(retries.column(i).to_pylist() for i in range(4)), strict=True):
                self._retries.get((ws, wf, step))[0] += n or 0

    def _take_back_retries(self, replaced: pa.Table) -> None:
        """A later try of a step replaced a stored one, whose retries this counter already
        added: the step counts its last try's retries alone (not 0 + 1 + 2 for three tries)."""
        columns = ("workspace_id", "workflow_id", "step_id", "retry_count")
        for ws, wf, step, retries in zip(*(replaced.column(c).to_pylist() for c in columns), strict=True):
            if wf is not None and retries:
                self._retries.get((ws, wf, step or ""))[0] -= retries

    def _learn_names(self, batch: CommittedBatch) -> None:
        """workflow id -> name, for the `flowscope_workflow_info` join (names are not labels elsewhere)."""
        for span in batch.workflow_spans:
            if span.role == m.EXECUTION:
                self._remember(span.workspace_id, span.attributes)
        for record in batch.workflow_logs:
            self._remember(record.workspace_id, record.attributes)

    def _remember(self, workspace: str, attrs: dict[str, Any]) -> None:
        name = m.workflow_name(attrs)  # first: most records (a step's) name no workflow
        if name and (workflow := m.workflow_id(attrs)):
            self._workflows.get((workspace, workflow))[0] = name  # in overflow: not shown

    # --- scrape side -------------------------------------------------------------

    def describe(self) -> Iterator[Metric]:
        """Names only, so registering does not query the database."""
        yield CounterMetricFamily("traces_span_metrics_calls", "")
        yield HistogramMetricFamily("traces_span_metrics_duration_milliseconds", "")
        yield CounterMetricFamily("flowscope_workflow_executions", "")
        yield HistogramMetricFamily("flowscope_workflow_execution_duration_seconds", "")
        yield HistogramMetricFamily("flowscope_workflow_step_duration_seconds", "")
        yield CounterMetricFamily("flowscope_workflow_step_retries", "")
        yield GaugeMetricFamily("flowscope_workflow_info", "")
        yield GaugeMetricFamily("flowscope_workflow_executions_running", "")
        yield GaugeMetricFamily("flowscope_workflow_executions_pending", "")

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            self._sweep()
            yield from self._span_families()
            yield from self._workflow_families()
        yield from self._active_families()

    def _span_families(self) -> Iterator[Metric]:
        calls = CounterMetricFamily(
            "traces_span_metrics_calls",
            "Spans stored, as the spanmetrics connector counts calls",
            labels=SPAN_LABELS,
        )
        for key, (counts, _) in self._span_durations.items():
            if isinstance(key, str):
                _add_overflow(calls, key, sum(counts))
            else:
                calls.add_metric(list(_span_key(key)), sum(counts))
        yield calls
        yield self._span_durations.family(
            "traces_span_metrics_duration_milliseconds",
            "Span durations in milliseconds (spanmetrics connector buckets)",
            SPAN_LABELS,
            _span_key,
        )

    def _workflow_families(self) -> Iterator[Metric]:
        executions = CounterMetricFamily(
            "flowscope_workflow_executions",
            "Finished workflow executions by final status",
            labels=EXECUTION_LABELS,
        )
        for key, (counts, _) in self._execution_durations.items():
            if isinstance(key, str):
                _add_overflow(executions, key, sum(counts))
            else:
                executions.add_metric(list(key), sum(counts))
        yield executions
        yield self._execution_durations.family(
            "flowscope_workflow_execution_duration_seconds",
            "Duration of finished workflow executions (root span)",
            EXECUTION_LABELS,
        )
        yield self._step_durations.family(
            "flowscope_workflow_step_duration_seconds",
            "Duration of workflow steps by final status",
            STEP_LABELS,
        )
        retries = CounterMetricFamily(
            "flowscope_workflow_step_retries",
            "Retries of workflow steps (workflow.step.retry_count)",
            labels=RETRY_LABELS,
        )
        for key, n in sorted(self._retries.series.items()):
            retries.add_metric(list(key), n[0])
        for workspace, n in sorted(self._retries.overflow.items()):
            _add_overflow(retries, workspace, n[0])
        yield retries
        info = GaugeMetricFamily(
            "flowscope_workflow_info",
            "Always 1: joins a workflow id to its name",
            labels=["workspace", "workflow", "workflow_name"],
        )
        for (workspace, workflow), (name,) in sorted(self._workflows.series.items()):
            if name is not None:
                info.add_metric([workspace, workflow, name], 1)
        yield info

    def _active_families(self) -> Iterator[Metric]:
        labels = ["workspace", "workflow"]
        running = GaugeMetricFamily(
            "flowscope_workflow_executions_running", "Executions started and not finished", labels=labels
        )
        pending = GaugeMetricFamily(
            "flowscope_workflow_executions_pending", "Executions queued and not started", labels=labels
        )
        try:
            rows = self._context.store.workflow_metrics.open_counts()
        except Exception:  # a scrape must not fail because the database is busy or closing
            log.exception("reading active executions for /metrics failed")
            rows = []
        # (workspace, workflow or None = the workspace's overflow, status) -> executions
        counts: dict[tuple[str, str | None, str], int] = {}
        with self._lock:
            for row in rows:
                workspace, workflow = row.workspace_id, row.workflow_id
                self._workflows.get((workspace, workflow))
                key = (
                    workspace,
                    workflow if self._workflows.admitted((workspace, workflow)) else None,
                    row.status,
                )
                counts[key] = counts.get(key, 0) + row.executions
            keys = sorted(self._workflows.series)
            overflowed = sorted(self._workflows.overflow)
        # Every workflow seen (active, or named by a batch) reports, 0 when idle: panels show
        # the drop to zero instead of "no data".
        for ws, wf in keys:
            running.add_metric([ws, wf], counts.get((ws, wf, "running"), 0))
            pending.add_metric([ws, wf], counts.get((ws, wf, "pending"), 0))
        for ws in overflowed:
            _add_overflow(running, ws, counts.get((ws, None, "running"), 0))
            _add_overflow(pending, ws, counts.get((ws, None, "pending"), 0))
        yield running
        yield pending


def install_workflow_metrics(context: AppContext) -> WorkflowMetrics:
    """Register the metrics on the app's registry and subscribe them to the bus (`create_app`
    does, once per context)."""
    settings = context.settings
    metrics = WorkflowMetrics(context, settings.metrics_series_limit, settings.metrics_series_expiry_seconds)
    context.registry.register(metrics)
    context.store.changes.subscribe(metrics.on_batch)
    return metrics
