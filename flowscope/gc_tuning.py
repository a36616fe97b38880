"""Python's cyclic garbage collector, tuned for a server that ingests workflow telemetry.

Converting workflow spans and records allocates dicts, tuples and dataclass instances for each
one (their attributes, the change feed's spans, execution facts), so collections ran often:

- each full one walked every object startup built (modules, the app, the store): measured with
  `gc.callbacks` in `serve` under 204,800 foreign-shaped spans, 1.4 s of collections (wall time),
  1.0 s of it in 7 full ones. Freezing what startup built takes it out of every later
  collection: the full ones then took 0.08 s in all;
- the young generation's threshold (CPython's 700 net allocations of tracked objects) was still
  reached every ~200 workflow spans or records, and what a young collection finds alive (the
  requests in conversion and in the write queue) moved on to older generations, whose
  collections walked it again: under 409,600 spans, 0.57 s of collections for foreign-shaped
  spans and 1.28 s for engine-shaped ones (1.4 and 3.1 µs a span, with the GIL held). At 20,000
  they took 0.10 and 0.14 s. Plain service spans allocate no tracked objects: their runs
  collected 30 times either way.

A higher threshold also means cyclic garbage waits longer to be freed. Requests are not in
any: a refused gRPC call's body was (grpc keeps the abort's exception in a cycle with the
call), until collector/grpc_receiver.py aborted from a frame that does not hold it;
tests/collector/test_backpressure.py floods with refused 1 MB requests and bounds the growth.
"""

from __future__ import annotations

import gc

# Net allocations of tracked objects between young collections (CPython's default: 700). The
# older generations keep CPython's thresholds (10 young collections per middle one).
YOUNG_THRESHOLD = 20_000


def collect_less() -> None:
    """Once startup is done: collect its garbage, then freeze what remains, out of reach of every
    later collection (it lives as long as the process anyway); from then on collect the young
    generation every YOUNG_THRESHOLD allocations."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
