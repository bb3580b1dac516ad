"""The rebuild after a rebalance: only new partitions, in slices, never ready half-built."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

from pipeline.correlation.state import decode
from pipeline.worker.correlator import Correlator
from pipeline.worker.rebuild import IndexRebuild
from tests.component.test_correlator import Clock, FailingSink, _correlator, _issued


async def _filled(per_partition: int, partitions: range) -> tuple[Correlator, dict[str, bytes]]:
    store: dict[str, bytes] = {}
    c = _correlator(Clock(), FailingSink(), store)
    for p in partitions:
        for n in range(per_partition):
            await c.on_issued(_issued(p * 100_000 + n), partition=p)
    return c, store


def _records(store: dict[str, bytes]) -> dict[int, list[tuple[str, bytes]]]:
    by_partition: dict[int, list[tuple[str, bytes]]] = {}
    for key, raw in store.items():
        by_partition.setdefault(decode(raw).partition, []).append((key, raw))
    return by_partition


class Assignment:
    def __init__(self, store: dict[str, bytes], active: set[int]) -> None:
        self.by_partition = _records(store)
        self.active = active
        self.reads: list[int] = []
        self.rebalancing = False

    def records(self, partition: int) -> Iterator[tuple[str, bytes]]:
        self.reads.append(partition)
        return iter(self.by_partition.get(partition, []))


def _rebuild(c: Correlator, a: Assignment, slice_size: int = 10) -> IndexRebuild:
    return IndexRebuild(c, records=a.records, active=lambda: set(a.active),
                        interrupted=lambda: a.rebalancing, slice_size=slice_size,
                        yield_after=0.0)


async def test_only_newly_assigned_partitions_are_read_and_kept_ones_keep_their_index() -> None:
    c, store = await _filled(30, range(3))
    a = Assignment(store, {0, 1})
    r = _rebuild(c, a)
    r.on_assigned({0, 1})
    assert await r.ensure() and r.complete()
    assert a.reads == [0, 1] and len(c.pending) == 60
    before = list(c.deadlines[1]._entries)
    a.active = {1, 2}  # 0 revoked, 1 kept, 2 new
    r.on_assigned({1, 2})
    assert not r.complete()
    assert await r.ensure()
    assert a.reads == [0, 1, 2]  # partition 1 was not read again
    assert sorted(c.deadlines) == [1, 2] and list(c.deadlines[1]._entries) == before
    assert len(c.deadlines[2]) == 30 and len(c.pending) == 60


async def test_the_rebuild_yields_to_the_loop_and_is_not_ready_until_complete() -> None:
    c, store = await _filled(200, range(2))
    a = Assignment(store, {0, 1})
    r = _rebuild(c, a, slice_size=25)
    r.on_assigned({0, 1})
    seen_incomplete = 0

    async def probe() -> None:  # what /readyz and heartbeats see while the rebuild runs
        nonlocal seen_incomplete
        while not r.complete():
            seen_incomplete += 1
            await asyncio.sleep(0)

    watcher = asyncio.create_task(probe())
    assert await r.ensure()
    await watcher
    assert seen_incomplete >= 400 // 25 - 1  # the loop ran between (nearly) every slice
    assert len(c.pending) == 400


async def test_a_rebalance_interrupts_the_rebuild_and_the_next_one_completes_it() -> None:
    c, store = await _filled(100, range(2))
    a = Assignment(store, {0, 1})
    r = _rebuild(c, a, slice_size=10)
    r.on_assigned({0, 1})
    a.rebalancing = True
    assert not await r.ensure()
    assert not r.complete()
    a.rebalancing = False
    r.on_assigned({0, 1})
    assert await r.ensure() and r.complete()
    assert len(c.pending) == 200 and len(c.deadlines[0]) == 100
