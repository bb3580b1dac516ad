"""The rebuild after a rebalance: only new partitions, in slices, never ready half-built."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator

import pytest

from pipeline.correlation import index_build
from pipeline.correlation.facts import Ack, Action, Issued, Submission
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


def _indexes(c: Correlator) -> dict[int, tuple[list[object], list[object], object, object]]:
    """Every partition's deadline entries, pending order, counts and causes, as they stand."""
    return {p: (list(c.deadlines[p]._entries), list(book.oldest_first()), dict(book.counts),
                dict(book.causes))
            for p, book in sorted(c.pending.books.items())}


async def _lived(seed: int, invoices: int) -> tuple[Correlator, dict[str, bytes], Clock]:
    """A worker that took issues, uploads, answers, operator actions and ticks in a random
    order over three partitions: alerts fired (their causes named), invoices synced, rejected,
    closed and reopened, some deadlines past and held back by the watermark."""
    rng = random.Random(seed)
    clock, sink, store = Clock(), FailingSink(), {}
    c = _correlator(clock, sink, store)
    ids = [f"{24110000000000000000 + n * 7919 % 100_003:020d}" for n in range(invoices)]
    partition = {invoice_id: n % 3 for n, invoice_id in enumerate(ids)}
    for step in range(invoices * 4):
        clock.now += rng.uniform(0, 0.1)
        invoice_id = rng.choice(ids)
        p, roll = partition[invoice_id], rng.random()
        if roll < 0.35:
            await c.on_issued(Issued(invoice_id, f"iss-{step}", clock.now - rng.uniform(0, 50),
                                     rng.choice(["110000", "310000", "440300"]), "erp-a",
                                     "91350100M000100Y43"), p)
        elif roll < 0.5:
            await c.on_ack(Ack(invoice_id, f"ack-{step}",
                               rng.choice(["accepted", "rejected", "duplicate"]), clock.now,
                               "E1", "税号不符"), p)
            c.on_ack_read(p, step)
        elif roll < 0.6:
            await c.on_submitted(Submission(invoice_id, f"sub-{step}", clock.now, "web",
                                            "uploader/3.2", 1, rng.choice([None, "timeout"])),
                                 p)
        elif roll < 0.67:
            await c.on_action(Action(invoice_id, f"act-{step}", rng.choice(["close", "reopen"]),
                                     clock.now, "ops", None, None), p)
        elif roll < 0.75:
            # The ack partition is caught up to a random point: some deadlines fire, others
            # wait for the watermark.
            c.watermarks.sample(p, clock.now - rng.uniform(0, 60), 0)
            await c.on_tick(p, committed=0)
    return c, store, clock


@pytest.mark.parametrize("seed", range(6))
async def test_a_rebuilt_worker_has_the_indexes_the_events_built(
        seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    # Small runs and pieces, so that a few hundred invoices take every path of the merge.
    monkeypatch.setattr(index_build, "RUN", 7)
    monkeypatch.setattr(index_build, "PIECE", 5)
    lived, store, clock = await _lived(seed, invoices=400)
    kept = _indexes(lived)
    assert sum(len(order) for _, order, _, _ in kept.values()) > 50
    assert any(causes for *_, causes in kept.values())  # alerts fired, causes named
    assert any(len(entries) < len(order) for entries, order, _, _ in kept.values())
    restarted = _correlator(clock, FailingSink(), store)
    a = Assignment(store, {0, 1, 2})
    r = _rebuild(restarted, a, slice_size=13)
    r.on_assigned({0, 1, 2})
    assert await r.ensure()
    assert _indexes(restarted) == kept
