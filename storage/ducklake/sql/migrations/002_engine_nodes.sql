-- Shared state of the nodes whose engines run executions on one lake (api/cluster.py): the
-- lake's alone (the DuckDB file has one process, whose engine recovers at start), so the file
-- has no such tables (tests/storage/test_lake_schema.py names them).
-- Wall-clock nanoseconds throughout: nodes compare another node's heartbeat with their own
-- clock (NTP keeps them within milliseconds; the staleness limit is seconds).

-- One row per node that runs the engine, from its start until a live node has closed what it
-- left open. `node_id` is its engine's OTel resource attribute `service.instance.id`, which
-- every record and span it emits carries: that is how an execution names its node.
CREATE TABLE engine_nodes (
    node_id       VARCHAR NOT NULL,
    host          VARCHAR NOT NULL,   -- for messages: where it ran
    pid           INTEGER NOT NULL,
    started_ns    UBIGINT NOT NULL,
    heartbeat_ns  UBIGINT NOT NULL,   -- its last heartbeat (its wall clock)
    closed_by     VARCHAR,            -- the live node closing its executions (set once stale)
    closed_ns     UBIGINT             -- when it was first taken for dead: what started later is
                                      -- its own again (a node that was only stalled)
);

-- Cancel requests taken by one node for an execution another node's engine runs; that node
-- polls for its own, cancels, and deletes them.
CREATE TABLE execution_cancels (
    workspace_id  VARCHAR NOT NULL,
    execution_id  VARCHAR NOT NULL,
    node_id       VARCHAR NOT NULL,   -- the node whose engine runs it
    requested_ns  UBIGINT NOT NULL
);
