"""Acks in any acknowledged_at order never make a deadline fire while an earlier ack is unread."""

from __future__ import annotations

import asyncio

from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.correlation.facts import Ack
from tests.component.test_correlator import T0, Clock, FailingSink, _correlator, _issued


async def test_an_ack_stamped_now_does_not_pass_an_unread_in_time_ack() -> None:
    """Issue 10 item 3: X (warn at T0+10) has an in-time ack behind another invoice's ack
    stamped 'now'. Reading the later-stamped one must not let X's deadline fire."""
    clock, sink, store = Clock(), FailingSink(), {}
    c = _correlator(clock, sink, store)
    await c.on_issued(_issued(1), partition=0)
    await c.on_issued(_issued(9), partition=0)
    clock.now = T0 + 600
    c.watermarks.sample(0, clock.now, 2)  # two acks in the partition
    await c.on_ack(Ack("inv-9", "a9", "accepted", T0 + 600), partition=0)
    c.on_ack_read(0, 0)
    await c.on_tick(0, committed=0)
    assert sink.sent == []
    await c.on_ack(Ack("inv-1", "a1", "accepted", T0 + 5), partition=0)
    c.on_ack_read(0, 1)
    clock.now += 1
    c.watermarks.sample(0, clock.now, 2)
    await c.on_tick(0, committed=0)
    assert sink.sent == []  # X synced in time: no unsynced, no resolved


_step = st.one_of(
    st.tuples(st.just("ack"), st.integers(0, 7), st.floats(-100.0, 100.0)),  # id, stamp offset
    st.tuples(st.just("sample"), st.just(0), st.just(0.0)),
    st.tuples(st.just("process"), st.integers(1, 3), st.just(0.0)),
    st.tuples(st.just("tick"), st.just(0), st.just(0.0)),
    st.tuples(st.just("advance"), st.integers(1, 8), st.just(0.0)),
)


@settings(max_examples=300, deadline=None)
@given(steps=st.lists(_step, max_size=60))
def test_no_unsynced_alert_while_an_ack_produced_before_the_deadline_is_unread(
        steps: list[tuple[str, int, float]]) -> None:
    asyncio.run(_interleave(steps))


async def _interleave(steps: list[tuple[str, int, float]]) -> None:
    clock, sink, store = Clock(), FailingSink(), {}
    c = _correlator(clock, sink, store)  # warn after 10 s, critical after 100 s
    for n in range(8):
        await c.on_issued(_issued(n, at=T0 + n), partition=0)
    log: list[tuple[float, Ack]] = []  # (appended at, ack), in offset order
    processed = 0
    for op, arg, stamp in steps:
        if op == "ack":  # acknowledged_at anywhere around now: producers do not order them
            log.append((clock.now, Ack(f"inv-{arg}", f"a{len(log)}", "accepted",
                                       clock.now + stamp)))
        elif op == "sample":
            c.watermarks.sample(0, clock.now, len(log))
        elif op == "process":
            for offset in range(processed, min(len(log), processed + arg)):
                await c.on_ack(log[offset][1], partition=0)
                c.on_ack_read(0, offset)
            processed = min(len(log), processed + arg)
        elif op == "tick":
            await c.on_tick(0, committed=0)
        else:
            clock.now += arg
    for alert in sink.sent:
        if alert.kind != "unsynced":
            continue
        assert alert.deadline_at is not None
        early = [ack for at, ack in log if ack.invoice_id == alert.invoice_id
                 and at < alert.deadline_at]
        assert early == [], (alert, early)
