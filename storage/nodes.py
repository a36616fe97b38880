"""What the engine nodes of one shared store know of each other (issue 14: several `serve`
nodes on one DuckLake): heartbeats, who closes what a dead node left open, and cancel
requests for executions another node's engine runs. The lake implements it
(storage/ducklake/nodes.py); the DuckDB file has one process and none of it. The policy
(when a node is dead, what gets closed) is api/cluster.py's."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Node:
    node_id: str
    """Its engine's OTel resource attribute `service.instance.id`."""
    host: str
    pid: int
    started_ns: int
    heartbeat_ns: int
    """Its last heartbeat (its wall clock, ns). A node stopping writes none: its engine's last
    spans may still be on their way to the lake, and must not be taken for interrupted."""
    closed_by: str | None
    """The live node that took it for dead and closes its executions."""
    closed_ns: int | None
    """When it was first taken for dead (the claimer's clock): executions that started later
    are its own again (it was only stalled) and are not closed."""


class NodeRegistry(Protocol):
    def nodes(self) -> list[Node]:
        """Every node with a row: alive, stopped or dead, until its executions are closed."""
        ...

    def node(self, node_id: str) -> Node | None: ...

    def instances(
        self, service_name: str, executions: Iterable[tuple[str, str]], since_ns: int
    ) -> dict[tuple[str, str], str]:
        """The `service.instance.id` on the resource of `service_name`'s records of each
        (workspace id, execution id), where they carry one: the node whose engine ran it.
        `since_ns`: no earlier than when the earliest of them was queued or started."""
        ...

    def register(self, node_id: str, host: str, pid: int, now_ns: int) -> None: ...

    def heartbeat(self, node_id: str, heartbeat_ns: int) -> bool:
        """Record a heartbeat; False when its row is gone or claimed
        (a live node took this one for dead)."""
        ...

    def claim(self, node: Node, by: str, now_ns: int) -> Node | None:
        """Take `node`, as read, to close its executions: its row as claimed; None when the row
        changed since it was read or a concurrent claim won (then it is not `by`'s to close).
        Of two nodes claiming at once, at most one gets a row."""
        ...

    def forget(self, node_id: str) -> None:
        """Drop the node's row and cancel requests: nothing of it is left open."""
        ...

    def request_cancel(self, workspace_id: str, execution_id: str, node_id: str, now_ns: int) -> None: ...

    def cancel_requests(self, node_id: str) -> list[tuple[str, str]]:
        """(workspace id, execution id) of the cancels asked of `node_id`, oldest first."""
        ...

    def cancels_done(self, node_id: str, execution_ids: list[str]) -> None: ...
