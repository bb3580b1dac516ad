"""Due invoices of one deadline pass share the alert delivery wait, and the agent never waits on
the broker for a watermark sample (issue 11: alert lateness)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from pipeline.correlation.alerts import Alert
from pipeline.correlation.state import Flag, decode
from pipeline.worker.endoffsets import EndOffsetSampler
from tests.component.test_correlator import T0, Clock, FailingSink, _correlator, _issued, _tick


class GatedSink:
    """An alert topic whose deliveries complete only when the test opens the gate."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.waiting = 0
        self.sent: list[Alert] = []

    async def __call__(self, alerts: Sequence[Alert]) -> None:
        self.waiting += 1
        await self.gate.wait()
        self.sent.extend(alerts)


UNTIL = 2.0


async def _until(condition: Any, what: str) -> None:
    """Poll ``condition`` (letting the other tasks run) until it holds or UNTIL seconds pass."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + UNTIL
    for _ in iter(int, 1):  # until a return or the failure below
        if condition():
            return
        if loop.time() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        await asyncio.sleep(0.001)


async def test_the_due_invoices_of_one_pass_await_their_deliveries_together() -> None:
    """One after another, each alert cost a produce round trip while the agent waited."""
    clock, sink, store = Clock(), GatedSink(), {}
    c = _correlator(clock, FailingSink(), store)
    c.emit = sink
    for n in range(20):
        await c.on_issued(_issued(n), partition=0)
    clock.now = T0 + 30
    tick = asyncio.ensure_future(_tick(c, clock, end=0, committed=0))
    await _until(lambda: sink.waiting == 20, "20 deliveries in flight at once")
    # Alerts before state: nothing is recorded as warned while its delivery is pending.
    assert not any(decode(raw).flags & Flag.WARNED for raw in store.values())
    sink.gate.set()
    await tick
    assert sorted(a.invoice_id for a in sink.sent if a.kind == "unsynced") == sorted(
        f"inv-{n}" for n in range(20))
    assert all(decode(raw).flags & Flag.WARNED for raw in store.values())


class OneFailingSink(FailingSink):
    """Refuses the alerts of one invoice (an infrastructure failure), delivers the others."""

    def __init__(self, refused: str) -> None:
        super().__init__()
        self.refused: str | None = refused

    async def __call__(self, alerts: Sequence[Alert]) -> None:
        if any(a.invoice_id == self.refused for a in alerts):
            raise ConnectionError("send refused")
        await super().__call__(alerts)


async def test_a_refused_send_keeps_only_its_invoice_due_and_the_others_are_sent_once() -> None:
    clock, sink, store = Clock(), OneFailingSink("inv-3"), {}
    c = _correlator(clock, sink, store)
    for n in range(6):
        await c.on_issued(_issued(n), partition=0)
    clock.now = T0 + 30
    with pytest.raises(ConnectionError):
        await _tick(c, clock, end=0, committed=0)
    assert sorted(a.invoice_id for a in sink.sent if a.kind == "unsynced") == [
        "inv-0", "inv-1", "inv-2", "inv-4", "inv-5"]
    assert not decode(store["inv-3"]).flags & Flag.WARNED
    # inv-3 is still due (its warning) in the running worker; the others wait for critical.
    assert c.deadlines[0].peek() == T0 + 10 and len(c.deadlines[0]) == 6
    sink.refused = None
    clock.now += 60  # past the backoff
    await _tick(c, clock, end=0, committed=0)
    warnings = [a.invoice_id for a in sink.sent
                if a.kind == "unsynced" and a.severity == "warning"]
    assert sorted(warnings) == [f"inv-{n}" for n in range(6)]


async def test_a_cancelled_pass_keeps_every_invoice_not_yet_sent_due() -> None:
    clock, sink, store = Clock(), GatedSink(), {}
    c = _correlator(clock, FailingSink(), store)
    c.emit = sink
    for n in range(5):
        await c.on_issued(_issued(n), partition=0)
    clock.now = T0 + 30
    tick = asyncio.ensure_future(_tick(c, clock, end=0, committed=0))
    await _until(lambda: sink.waiting == 5, "5 deliveries in flight")
    tick.cancel()
    with pytest.raises(asyncio.CancelledError):
        await tick
    assert len(c.deadlines[0]) == 5
    assert not any(decode(raw).flags & Flag.WARNED for raw in store.values())


class SlowBroker:
    """End offsets answered only when the test says so; records each request's partitions."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.requests: list[tuple[float, list[int]]] = []
        self.answer = asyncio.Event()
        self.end = 0

    async def __call__(self, *tps: Any) -> Mapping[Any, int]:
        self.requests.append((self.clock.now, sorted(tp.partition for tp in tps)))
        await self.answer.wait()
        self.answer.clear()
        return {tp: self.end for tp in tps}


async def test_a_requested_sample_is_taken_in_the_background_and_requests_coalesce() -> None:
    clock, store = Clock(), {}
    c = _correlator(clock, FailingSink(), store)
    broker = SlowBroker(clock)
    sampler = EndOffsetSampler(c.watermarks, broker, topic="acks", settle=0.0, clock=clock)
    sampler.request([0])  # returns at once: the caller (the agent) never waits on the broker
    await _until(lambda: len(broker.requests) == 1, "the first request")
    clock.now = T0 + 1
    sampler.request([1])
    sampler.request([2, 1])
    broker.end = 7
    broker.answer.set()  # the first answer; the two later requests go out as one
    await _until(lambda: len(broker.requests) == 2, "the second request")
    assert broker.requests == [(T0, [0]), (T0 + 1, [1, 2])]
    assert c.watermarks.value(0, committed=7, now=clock.now) == T0
    broker.answer.set()
    await _until(lambda: c.watermarks.value(2, committed=7, now=clock.now) == T0 + 1,
                 "the second sample")
    await sampler.close()
    sampler.request([0])
    assert len(broker.requests) == 2  # closed: no more requests
