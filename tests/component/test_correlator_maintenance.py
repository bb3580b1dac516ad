"""The correlator with declared maintenance windows: deadlines deferred, one alert at the start
and one at the end (owner of partition 0 only, once per process), the window named as cause."""

from __future__ import annotations

from collections.abc import Sequence

from pipeline.correlation.alerts import Alert
from pipeline.correlation.facts import Ack, Issued, Submission
from pipeline.correlation.maintenance import MaintenanceCalendar, MaintenanceWindow
from pipeline.correlation.ratelimit import TokenBucket
from pipeline.correlation.sla import SlaRules, Thresholds
from pipeline.correlation.state import Flag, decode
from pipeline.worker.correlator import Correlator

T0 = 1_800_000_000.0
WINDOW = MaintenanceWindow("upgrade", T0 + 100, T0 + 200, reason="乐企 upgrade")
CALENDAR = MaintenanceCalendar((WINDOW,), grace=30.0)


class Clock:
    now = T0

    def __call__(self) -> float:
        return self.now


class Sink:
    def __init__(self) -> None:
        self.sent: list[Alert] = []

    async def __call__(self, alerts: Sequence[Alert]) -> None:
        self.sent.extend(alerts)


def correlator(clock: Clock, sink: Sink, store: dict[str, bytes],
               tracked: bool = False) -> Correlator:
    return Correlator(store=store, sla=SlaRules(default=Thresholds(60.0, 3600.0)), emit=sink,
                      drain=TokenBucket(1000.0, 1000), clock=clock,
                      maintenance=CALENDAR, submissions_tracked=tracked)


def issued(n: int, at: float) -> Issued:
    return Issued(f"inv-{n}", f"ev-{n}", at, "110000", "erp-a", "91350100M000100Y43")


async def tick(c: Correlator, clock: Clock, partition: int) -> None:
    """A tick with the ack partition caught up (end offset 0 sampled now): the watermark is now."""
    c.watermarks.sample(partition, clock.now, 0)
    await c.on_tick(partition, committed=0)


async def tick_until(c: Correlator, clock: Clock, until: float, partitions: range) -> None:
    while clock.now < until:
        clock.now += 5
        for partition in partitions:
            await tick(c, clock, partition)


async def test_a_planned_upgrade_raises_two_maintenance_alerts_not_a_storm() -> None:
    clock, sink, store = Clock(), Sink(), {}
    c = correlator(clock, sink, store)
    for n in range(30):  # warnings at T0 + 110 .. T0 + 139: inside the window
        await c.on_issued(issued(n, T0 + 50 + n), partition=n % 2)
    await c.on_issued(issued(99, T0), partition=1)  # warns at T0 + 60, before the window
    await c.on_ack(Ack("inv-0", "a-0", "accepted", T0 + 210), partition=0)
    c.on_ack_read(0, 0)
    await tick_until(c, clock, T0 + 195, range(2))  # the window still open
    kinds = [(a.kind, a.invoice_id) for a in sink.sent]
    assert kinds == [("unsynced", "inv-99"), ("maintenance", "")]
    # Before the window, untracked, no scope evidence: the worker says it cannot tell.
    cause = sink.sent[0].probable_cause
    assert cause is not None and cause.code == "unknown"
    assert decode(store["inv-5"]).flags & Flag.DEFERRED
    await tick_until(c, clock, T0 + 260, range(2))
    later = sink.sent[2:]
    assert [(a.kind, a.severity) for a in later[:1]] == [("maintenance", "info")]
    assert later[0].resolved_alert_ids == (sink.sent[1].alert_id,)
    unsynced = [a for a in later if a.kind == "unsynced"]
    assert sorted(a.invoice_id for a in unsynced) == sorted(f"inv-{n}" for n in range(1, 30))
    assert all(a.deadline_at == T0 + 230 for a in unsynced)
    assert all(a.probable_cause is not None and a.probable_cause.code == "platform_maintenance"
               for a in unsynced)
    # What the unsynced-by-cause gauge shows: 29 waited through the window, 1 before it (unknown).
    assert c.pending.causes == {"platform_maintenance": 29, "unknown": 1}
    # A restarted worker announces the window's alerts once more, with the same ids.
    again = Sink()
    restarted = correlator(clock, again, store)
    await tick(restarted, clock, 0)
    assert [a.alert_id for a in again.sent] == [sink.sent[1].alert_id, later[0].alert_id]


async def test_only_partition_0_announces() -> None:
    clock, sink, store = Clock(), Sink(), {}
    c = correlator(clock, sink, store)
    clock.now = T0 + 150
    await tick(c, clock, 1)
    await tick(c, clock, 2)
    assert sink.sent == []
    await tick(c, clock, 0)
    await tick(c, clock, 0)
    assert [a.kind for a in sink.sent] == ["maintenance"]


async def test_a_never_uploaded_invoice_is_not_blamed_on_the_window() -> None:
    clock, sink, store = Clock(), Sink(), {}
    c = correlator(clock, sink, store, tracked=True)
    await c.on_issued(issued(1, T0 + 50), partition=1)
    await c.on_issued(issued(2, T0 + 50), partition=1)
    await c.on_submitted(Submission("inv-2", "s-2", T0 + 51, "leqi", "up/3.2.1", 1), 1)
    await tick_until(c, clock, T0 + 240, range(1, 2))
    causes = {a.invoice_id: a.probable_cause for a in sink.sent if a.kind == "unsynced"}
    cause = causes["inv-1"]  # never uploaded: not the window's fault
    assert cause is not None and cause.code == "not_submitted"
    assert causes["inv-2"] is not None and causes["inv-2"].code == "platform_maintenance"
