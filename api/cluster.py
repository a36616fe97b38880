"""This node among the engine nodes of one shared store (issue 14: `serve` nodes on one
DuckLake; the DuckDB file has one process and none of this: api/recovery.py closes what a
crash left open at start).

- **Identity.** Each start of a node is a new node id, a UUID, which its engine's telemetry
  carries as the OTel resource attribute `service.instance.id` (compose.engine_config): every
  record and span of an execution names the node whose engine runs it, the queued record
  included, which is stored before execute answers (api/intake.py).
- **Heartbeats.** The node records one every `heartbeat_seconds` in the store's shared state
  (storage/nodes.py); a node not heard of for `stale_seconds` (its last heartbeat, by the
  observer's wall clock) is dead.
- **Closing a dead node's executions.** Each node checks on every heartbeat. A dead node is
  claimed first (at most one of two nodes claiming at once wins: `NodeRegistry.claim`); the
  claimer emits the root span of each of its open executions ended failed ("interrupted", as
  at a restart, at the dead node's last heartbeat), and once none is open forgets the node. A
  claimer that dies meanwhile is dead in turn, and its claim is taken over. A node sweeps only
  after its own heartbeats have gone through for `stale_seconds` without a gap: a node just
  started, or back after the lake was out of reach (when nobody could beat), first gives every
  live node time to be heard of again.
- **Cancel through another node.** The API asks its own engine first; an execution another
  node's engine runs gets a cancel request in the shared state, which that node polls for
  (every `heartbeat_seconds / 4` while its engine runs anything) and hands to its engine.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from typing import TYPE_CHECKING

from flowscope.api.recovery import emit_interrupted
from flowscope.storage.interfaces import Store
from flowscope.storage.nodes import Node, NodeRegistry

if TYPE_CHECKING:
    from flowscope.engine.host import EngineHost

log = logging.getLogger("flowscope.api")

POLLS_PER_HEARTBEAT = 4


class Cluster:
    def __init__(
        self, nodes: NodeRegistry, store: Store, engine: EngineHost, *,
        heartbeat_seconds: float, stale_seconds: float,
    ) -> None:  # fmt: skip
        node_id = engine.telemetry.config.instance_id
        assert node_id is not None, "a node's engine names its node (TelemetryConfig.instance_id)"
        self.node_id: str = node_id
        self._nodes = nodes
        self._store = store
        self._engine = engine
        self._service = engine.telemetry.config.service_name
        self._heartbeat_s = heartbeat_seconds
        self._stale_ns = int(stale_seconds * 1e9)
        self._stale_s = stale_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="flowscope-cluster", daemon=True)
        self._healthy_since: float | None = None  # monotonic: heartbeats went through since then
        self._last_beat = 0.0
        self._declared_dead = False

    # -- lifecycle -----------------------------------------------------------------------
    def start(self) -> None:
        """Register this node (before its engine takes an execution), then run the loop."""
        self._nodes.register(self.node_id, socket.gethostname(), os.getpid(), time.time_ns())
        self._last_beat = self._healthy_since = time.monotonic()
        self._thread.start()
        log.info("engine node %s registered", self.node_id)

    def stop(self) -> None:
        """Stop heartbeating. No "stopped" mark: the engine's last spans may still be queued for
        the writer, and a node closing this one's executions before they are committed would
        record them interrupted. After `stale_seconds` a live node finds nothing open and
        forgets this one."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    # -- the API's cancel ----------------------------------------------------------------
    def request_cancel(self, workspace_id: str, execution_id: str, created_ns: int) -> str | None:
        """Ask the node whose engine runs the execution (queued or started at `created_ns`) to
        cancel it (blocking). None once asked; else why it cannot be (one line, for a 409)."""
        key = (workspace_id, execution_id)
        owner = self._nodes.instances(self._service, [key], created_ns).get(key)
        if owner is None:
            return f"Execution {execution_id!r} is not run by the engine of any node of this store"
        if owner == self.node_id:  # our engine had it not: it ended meanwhile
            return f"Execution {execution_id!r} is not running in this server's engine any more"
        node = self._nodes.node(owner)
        now_ns = time.time_ns()
        if node is None or not self._alive(node, now_ns):
            return f"Execution {execution_id!r} cannot be cancelled: {self._gone(owner, node, now_ns)}"
        self._nodes.request_cancel(workspace_id, execution_id, owner, now_ns)
        return None

    def _gone(self, owner: str, node: Node | None, now_ns: int) -> str:
        if node is None:
            return f"its node {owner} is gone"
        silent = (now_ns - node.heartbeat_ns) / 1e9
        where = f"its node {owner} ({node.host}, pid {node.pid}) has not been heard of for {silent:.0f} s"
        return f"{where}; a live node closes its executions as failed (interrupted)"

    def _alive(self, node: Node, now_ns: int) -> bool:
        return node.closed_by is None and now_ns - node.heartbeat_ns < self._stale_ns

    # -- the loop ------------------------------------------------------------------------
    def _run(self) -> None:
        poll = self._heartbeat_s / POLLS_PER_HEARTBEAT
        while not self._stop.wait(poll):
            try:
                if time.monotonic() - self._last_beat >= self._heartbeat_s:
                    self._beat()
                    self._take_cancels()
                    self._sweep()
                elif self._engine.stats()["active"]:
                    self._take_cancels()
            except Exception as exc:  # the lake out of reach: try again next time
                self._healthy_since = None
                log.warning("engine node %s: shared state unavailable: %s", self.node_id, exc)

    def _beat(self) -> None:
        now = time.monotonic()
        if now - self._last_beat > 2 * self._heartbeat_s:  # a gap: others may have missed us
            self._healthy_since = None
        ours = self._nodes.heartbeat(self.node_id, time.time_ns())
        self._last_beat = now
        if self._healthy_since is None:
            self._healthy_since = now
        if ours:
            self._declared_dead = False
            return
        if not self._declared_dead:
            self._declared_dead = True
            log.error(
                "engine node %s was taken for dead (no heartbeat recorded for %s s): another node "
                "closes the executions it had open as failed (interrupted)", self.node_id, self._stale_s,
            )  # fmt: skip
        if self._nodes.node(self.node_id) is None:  # that node is done with it: be a node again
            self._nodes.register(self.node_id, socket.gethostname(), os.getpid(), time.time_ns())

    def _take_cancels(self) -> None:
        asked = self._nodes.cancel_requests(self.node_id)
        if not asked:
            return
        for _, execution_id in asked:
            accepted = self._engine.cancel(execution_id)
            log.info("cancel of %s asked through another node: %s", execution_id, accepted)
        self._nodes.cancels_done(self.node_id, [e for _, e in asked])

    def _sweep(self) -> None:
        if self._healthy_since is None or time.monotonic() - self._healthy_since < self._stale_s:
            return
        now_ns = time.time_ns()
        nodes = self._nodes.nodes()
        alive = {n.node_id for n in nodes if self._alive(n, now_ns)} | {self.node_id}
        for node in nodes:
            if node.node_id in alive or node.closed_by in alive - {self.node_id}:
                continue  # alive, or another live node closes what it left open
            mine = node.closed_by == self.node_id
            claimed = node if mine else self._nodes.claim(node, self.node_id, now_ns)
            if claimed is not None:
                self._close(claimed)

    def _close(self, node: Node) -> None:
        """Close what `node` left open when it was taken for dead; forget it once nothing is
        (the spans emitted here are committed by the next sweep, which then finds none).
        What started later is its own: it was only stalled, and registers again once forgotten."""
        assert node.closed_ns is not None
        open_ones = self._store.executions.open_executions(self._service)
        keys = [(e.workspace_id, e.execution_id) for e in open_ones]
        owners = self._nodes.instances(self._service, keys, min((e.start_ns for e in open_ones), default=0))
        theirs = [
            e for e in open_ones
            if owners.get((e.workspace_id, e.execution_id)) == node.node_id and e.start_ns <= node.closed_ns
        ]  # fmt: skip
        if not theirs:
            self._nodes.forget(node.node_id)
            log.info("engine node %s (%s, pid %d): nothing left open", node.node_id, node.host, node.pid)
            return
        # Their rows are the dead node's writer's: ours must fold the root spans into them.
        self._store.writer.expect_stored([(e.workspace_id, e.execution_id) for e in theirs])
        emit_interrupted(self._engine, theirs, node.heartbeat_ns)
        self._engine.telemetry.flush()
        log.warning(
            "closed %d execution(s) of engine node %s (%s, pid %d), not heard of since %s s, as failed",
            len(theirs), node.node_id, node.host, node.pid, round((time.time_ns() - node.heartbeat_ns) / 1e9),
        )  # fmt: skip
