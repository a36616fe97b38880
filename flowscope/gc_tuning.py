"""Python's cyclic garbage collector, tuned for a server that ingests workflow telemetry.

Converting workflow spans and records allocates dicts, tuples and dataclass instances for each
one (their attributes, the change feed's spans, execution facts), so collections run often,
and each full one walked every object startup built (modules, the app, the store): measured
with `gc.callbacks` in `serve` under 204,800 foreign-shaped spans, 1.4 s of collections (wall
time), 1.0 s of it in 7 full ones. Freezing what startup built takes it out of every later
collection: the full ones then took 0.08 s in all.

The young generation's threshold stays CPython's (700 allocations): raised to 10,000 it saved
~0.2 s more in that run, but cyclic garbage that holds a refused request's body (up to the body
limit, each) then waited longer to be freed, and a flood of refused 1 MB requests grew the
server by 390 MiB (tests/collector/test_backpressure.py's bound is 300).
"""

from __future__ import annotations

import gc


def collect_less() -> None:
    """Once startup is done: collect its garbage, then freeze what remains, out of reach of every
    later collection (it lives as long as the process anyway)."""
    gc.collect()
    gc.freeze()
