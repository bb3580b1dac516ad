"""The adapter's ordering and gating, with a dict for the table and a list for the alert topic."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from pipeline.correlation.alerts import Alert
from pipeline.correlation.evidence import Observation
from pipeline.correlation.facts import Ack, Issued
from pipeline.correlation.ratelimit import TokenBucket
from pipeline.correlation.sla import SlaRules, Thresholds
from pipeline.correlation.state import Flag, InvoiceState, decode
from pipeline.worker.correlator import Correlator

T0 = 1_800_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


class FailingSink:
    """An alert topic that can be made to fail, as a broker outage or a crash would."""

    def __init__(self) -> None:
        self.sent: list[Alert] = []
        self.fail = False

    async def __call__(self, alerts: Sequence[Alert]) -> None:
        if self.fail:
            raise ConnectionError("broker unreachable")
        self.sent.extend(alerts)


def _correlator(clock: Clock, sink: FailingSink, store: dict[str, bytes],
                rate: float = 1000.0, burst: int = 1000) -> Correlator:
    return Correlator(store=store, sla=SlaRules(default=Thresholds(10.0, 100.0)), emit=sink,
                      drain=TokenBucket(rate, burst), clock=clock)


async def _tick(c: Correlator, clock: Clock, *, end: int, committed: int) -> None:
    """A tick of partition 0 after a sample of its ack end offset taken now."""
    c.watermarks.sample(0, clock.now, end)
    await c.on_tick(0, committed=committed)


def _issued(n: int, at: float = T0) -> Issued:
    return Issued(f"inv-{n}", f"ev-{n}", at, "110000", "erp-a", "91350100M000100Y43")


async def test_deadline_waits_for_the_ack_watermark() -> None:
    clock, sink, store = Clock(), FailingSink(), {}
    c = _correlator(clock, sink, store)
    await c.on_issued(_issued(1), partition=0)
    clock.now = T0 + 30
    # Behind on the ack partition (end offset 5, nothing read): the watermark is 0, nothing fires.
    await _tick(c, clock, end=5, committed=0)
    assert sink.sent == []
    # Caught up: the watermark is now and the warning fires.
    await _tick(c, clock, end=5, committed=5)
    assert [(a.kind, a.severity) for a in sink.sent] == [("unsynced", "warning")]


async def test_an_alert_that_failed_to_send_is_not_recorded_as_sent() -> None:
    clock, sink, store = Clock(), FailingSink(), {}
    c = _correlator(clock, sink, store)
    await c.on_issued(_issued(1), partition=0)
    clock.now = T0 + 30
    sink.fail = True
    with pytest.raises(ConnectionError):
        await _tick(c, clock, end=0, committed=0)
    assert not decode(store["inv-1"]).flags & Flag.WARNED
    # After a restart the record is reloaded from the table and the alert goes out.
    sink.fail = False
    restarted = _correlator(clock, sink, store)
    restarted.rebuild(store.items(), {0})
    await _tick(restarted, clock, end=0, committed=0)
    assert [a.invoice_id for a in sink.sent] == ["inv-1"]


async def test_due_alerts_drain_at_a_bounded_rate() -> None:
    clock, sink, store = Clock(), FailingSink(), {}
    c = _correlator(clock, sink, store, rate=5.0, burst=5)
    for n in range(12):
        await c.on_issued(_issued(n), partition=0)
    clock.now = T0 + 30
    await _tick(c, clock, end=0, committed=0)
    assert len(sink.sent) == 5
    clock.now += 1.0
    await _tick(c, clock, end=0, committed=0)
    assert len(sink.sent) == 10
    clock.now += 1.0
    await _tick(c, clock, end=0, committed=0)
    assert len({a.invoice_id for a in sink.sent}) == 12


async def test_rebuild_restores_pending_counts_of_active_partitions_only() -> None:
    clock, sink, store = Clock(), FailingSink(), {}
    c = _correlator(clock, sink, store)
    await c.on_issued(_issued(1), partition=0)
    await c.on_issued(_issued(2), partition=1)
    await c.on_ack(Ack("inv-2", "ack-2", "accepted", T0 + 1), partition=1)
    c.on_ack_read(1, 0)
    await c.on_issued(_issued(3), partition=1)
    fresh = _correlator(clock, sink, store)
    assert fresh.rebuild(store.items(), {1}) == 2
    assert dict(fresh.pending.counts) == {("110000", "within_sla"): 1}
    assert fresh.pending.oldest_issued_at() == T0


async def test_a_failed_send_keeps_the_due_invoices_scheduled_in_the_running_worker() -> None:
    """No restart in between: the broker comes back and the next tick sends every alert."""
    clock, sink, store = Clock(), FailingSink(), {}
    c = _correlator(clock, sink, store)
    seen: list[tuple[InvoiceState, Observation]] = []
    c.observe = lambda state, observation: seen.append((state, observation))
    for n in range(3):
        await c.on_issued(_issued(n), partition=0)
    clock.now = T0 + 30
    sink.fail = True
    with pytest.raises(ConnectionError):
        await _tick(c, clock, end=0, committed=0)
    assert len(c.deadlines[0]) == 3
    sink.fail = False
    clock.now += 1.0
    await _tick(c, clock, end=0, committed=0)
    assert sorted(a.invoice_id for a in sink.sent) == ["inv-0", "inv-1", "inv-2"]
    # Observed once for the group's scope evidence, not once per attempt.
    due = [(state.invoice_id, o.unsynced) for state, o in seen if o.kind == "due"]
    assert sorted(due) == [("inv-0", True), ("inv-1", True), ("inv-2", True)]


async def test_expiry_is_found_by_the_sweep_not_kept_in_the_deadline_heap() -> None:
    clock, sink, store = Clock(), FailingSink(), {}
    c = Correlator(store=store, sla=SlaRules(default=Thresholds(10.0, 100.0)), emit=sink,
                   drain=TokenBucket(1000, 1000), clock=clock,
                   retention=60.0)
    await c.on_issued(_issued(1), partition=0)
    await c.on_ack(Ack("inv-1", "ack-1", "accepted", T0 + 2), 0)
    c.on_ack_read(0, 0)
    await c.on_ack(Ack("inv-2", "ack-2", "accepted", T0 + 2), 0)
    c.on_ack_read(0, 1)
    assert set(store) == {"inv-1", "inv-2"}  # synced, and an ack held for its invoice
    assert len(c.deadlines[0]) == 0  # neither waits in memory
    assert await c.sweep(0, list(store.items())) == 0  # not expired yet
    clock.now = T0 + 61
    assert await c.sweep(1, list(store.items())) == 0  # another partition's records: skipped
    assert await c.sweep(0, list(store.items())) == 2
    assert store == {}
    assert [(a.kind, a.invoice_id) for a in sink.sent] == [("orphan_ack", "inv-2")]
