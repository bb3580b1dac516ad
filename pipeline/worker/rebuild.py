"""Keeps the correlator's derived indexes (deadlines, pending books) in step with the assignment.

After a rebalance only the newly assigned partitions are rebuilt from their table; partitions the
worker kept keep their indexes, revoked ones are dropped. A partition is read in slices of
``SLICE`` records, yielding to the event loop every ``YIELD_AFTER`` seconds, so a table of
millions of records never holds the loop (heartbeats, rebalance callbacks, /healthz) for more
than a few tens of milliseconds; and the
rebuild stops as soon as a new rebalance starts, so faust's revocation (which waits for the event
in hand) is not held up by it. The worker is ready only once every active partition is rebuilt
for the current assignment: never with a half-built index.

Runs inside the agent (concurrency 1): no event is applied to a partition while it is rebuilt,
except the one event in hand when a rebalance interrupts the rebuild (applied to the partial
index; the partition is rebuilt from the table again afterwards, which includes its effect).
"""

from __future__ import annotations

import asyncio
import gc
import itertools
import time
from collections.abc import Callable, Iterator
from typing import Any

from pipeline.logs import get_logger
from pipeline.worker.correlator import Correlator

log = get_logger(__name__)

#: Records indexed between two looks at the clock (~10-15 us each: read, decode, deadline,
#: pending), and how long the rebuild may hold the loop before it yields.
SLICE = 500
YIELD_AFTER = 0.01

Records = Callable[[int], Iterator[tuple[Any, bytes]]]
"""A partition's (key, record) pairs; ``invoice_id_of`` names the invoice of a key."""


class IndexRebuild:
    """Which partitions' indexes are complete for the current assignment, and the rebuild."""

    def __init__(self, correlator: Correlator, *, records: Records,
                 active: Callable[[], set[int]], interrupted: Callable[[], bool],
                 invoice_id_of: Callable[[Any], str] = str,
                 slice_size: int = SLICE, yield_after: float = YIELD_AFTER) -> None:
        self.correlator = correlator
        self._records = records
        self._invoice_id_of = invoice_id_of
        self._active = active
        self._interrupted = interrupted
        self.slice_size = slice_size
        self.yield_after = yield_after
        self._assigned = 0
        self._built_for = -1
        self.built: set[int] = set()
        #: The longest the rebuild held the loop between two yields: wall and CPU seconds (a
        #: loaded machine stretches the wall figure; the CPU one is the rebuild's own).
        self.longest_hold = 0.0
        self.longest_hold_cpu = 0.0
        self._yielded = self._yielded_cpu = 0.0

    def on_assigned(self, active: set[int]) -> None:
        """A new assignment: what is no longer ours is no longer built (were it to come back
        later, another worker may have changed it in between)."""
        self._assigned += 1
        self.built &= active

    def complete(self) -> bool:
        """Every active partition's indexes are built for the current assignment."""
        return self._built_for == self._assigned

    async def ensure(self) -> bool:
        """Rebuild what the current assignment needs; False if a rebalance interrupted it."""
        if self.complete():
            return True
        # The rebuild adds millions of long-lived tuples: left on, the cyclic GC would scan the
        # growing heap in full collections of several hundred ms each (measured at 400,000
        # records), stalls that slicing cannot split. The indexes hold no reference cycles, so
        # collection is paused while they grow, and what exists afterwards is frozen (moved out
        # of the collector's view; refcounting still frees it) so the next full collection does
        # not walk it either.
        collecting = gc.isenabled()
        gc.disable()
        try:
            return await self._ensure()
        finally:
            if collecting:
                gc.freeze()
                gc.enable()

    async def _ensure(self) -> bool:
        while not self.complete():
            generation = self._assigned
            active = self._active()
            fresh = active - self.built
            self.correlator.begin_rebuild(active, fresh)
            for partition in sorted(fresh):
                if not await self._rebuild(partition, generation):
                    return False
                self.built.add(partition)
            if generation == self._assigned:
                self._built_for = generation
                log.info("state_rebuilt", rebuilt=sorted(fresh), kept=sorted(active - fresh),
                         pending=len(self.correlator.pending))
        return True

    async def _rebuild(self, partition: int, generation: int) -> bool:
        started = time.monotonic()
        self._yielded, self._yielded_cpu = started, time.process_time()
        records = self._records(partition)
        count = 0
        try:
            while chunk := list(itertools.islice(records, self.slice_size)):
                count += self.correlator.rebuild_slice(chunk, {partition},
                                                       self._invoice_id_of)
                if not await self._pause(generation):
                    log.info("rebuild_interrupted", partition=partition, invoices=count)
                    return False
        finally:
            close = getattr(records, "close", None)
            if close is not None:
                close()  # release the RocksDB iterator now, not at garbage collection
        # The collected entries are ordered a bounded piece at a time (index_build.py).
        while not self.correlator.finish_rebuild(partition):
            if not await self._pause(generation):
                log.info("rebuild_interrupted", partition=partition, invoices=count)
                return False
        log.info("partition_rebuilt", partition=partition, invoices=count,
                 seconds=round(time.monotonic() - started, 3),
                 longest_hold_ms=round(self.longest_hold * 1000, 1))
        return True

    async def _pause(self, generation: int) -> bool:
        """Yield to the loop if the rebuild has held it ``yield_after``; False if a rebalance
        started meanwhile (the rebuild then stops)."""
        held = time.monotonic() - self._yielded
        if held < self.yield_after:
            return True
        self.longest_hold = max(self.longest_hold, held)
        self.longest_hold_cpu = max(self.longest_hold_cpu,
                                    time.process_time() - self._yielded_cpu)
        await asyncio.sleep(0)
        self._yielded, self._yielded_cpu = time.monotonic(), time.process_time()
        return not self._interrupted() and generation == self._assigned
