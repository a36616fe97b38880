"""The collector's own health metrics (Prometheus), registered on a caller's registry."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class CollectorMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry  # a store may register metrics of its own there (storage/ducklake/)
        self.received = Counter(
            "flowscope_collector_received_total",
            "Spans and log records received in export requests",
            ["signal", "transport"],
            registry=registry,
        )
        self.rejected = Counter(
            "flowscope_collector_rejected_total",
            "Spans and log records rejected as invalid (partial success)",
            ["signal"],
            registry=registry,
        )
        self.duplicated = Counter(
            "flowscope_collector_duplicated_total",
            "Spans and log records dropped because they were already stored",
            ["signal"],
            registry=registry,
        )
        self.stored = Counter(
            "flowscope_collector_stored_total",
            "Spans and log records committed to the database",
            ["signal"],
            registry=registry,
        )
        self.requests = Counter(
            "flowscope_collector_requests_total",
            "Export requests by transport, signal and outcome",
            ["transport", "signal", "outcome"],
            registry=registry,
        )
        self.backpressure = Counter(
            "flowscope_collector_backpressure_total",
            "Export requests refused because the write queue was full",
            ["transport"],
            registry=registry,
        )
        self.queue_depth = Gauge(
            "flowscope_collector_queue_items",
            "Spans and log records waiting in the write queue",
            registry=registry,
        )
        self.queue_capacity = Gauge(
            "flowscope_collector_queue_capacity_items",
            "Capacity of the write queue in spans and log records",
            registry=registry,
        )
        self.commit_items = Histogram(
            "flowscope_collector_commit_batch_items",
            "Spans and log records per commit (group commit batch size)",
            buckets=(1, 10, 50, 100, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000),
            registry=registry,
        )
        self.commit_seconds = Histogram(
            "flowscope_collector_commit_duration_seconds",
            "Time to convert, insert and commit one batch",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=registry,
        )
        self.retention_deleted = Counter(
            "flowscope_collector_retention_deleted_total",
            "Rows deleted by retention (--retention-days)",
            ["signal"],
            registry=registry,
        )
        # Passes, not rows: a pass that found nothing to delete still proves retention runs.
        self.retention_runs = Counter(
            "flowscope_collector_retention_runs_total",
            "Retention passes completed (--retention-days)",
            registry=registry,
        )
        self.commit_failures = Counter(
            "flowscope_collector_commit_failures_total",
            "Commits that failed (storage unavailable)",
            registry=registry,
        )
