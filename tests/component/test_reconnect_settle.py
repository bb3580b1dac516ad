"""After the broker comes back, deadlines that fell while it was lost wait a settle period."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiokafka.errors import KafkaConnectionError

from pipeline.worker.endoffsets import EndOffsetSampler
from tests.component.test_correlator import T0, Clock, FailingSink, _correlator, _issued


class Broker:
    """End offsets of the ack partitions, or a failure while the broker is lost."""

    def __init__(self) -> None:
        self.lost = False
        self.end = 0

    async def __call__(self, *tps: Any) -> Mapping[Any, int]:
        if self.lost:
            raise KafkaConnectionError("no broker")
        return {tp: self.end for tp in tps}


async def _run(settle: float) -> list[float]:
    """Seconds after the regain at which inv-1 (due at T0+10, during the loss) alerted."""
    clock, sink, store, broker = Clock(), FailingSink(), {}, Broker()
    c = _correlator(clock, sink, store)
    sampler = EndOffsetSampler(c.watermarks, broker, topic="acks", settle=settle, clock=clock)
    await c.on_issued(_issued(1), partition=0)  # warn at T0 + 10
    assert await sampler.sample([0])
    broker.lost = True
    clock.now = T0 + 5
    assert not await sampler.sample([0])
    clock.now = T0 + 60  # the broker comes back; the deadline fell during the loss
    broker.lost = False
    fired: list[float] = []
    for _ in range(40):
        await sampler.sample([0])
        await c.on_tick(0, committed=0)
        if sink.sent and not fired:
            fired.append(clock.now - (T0 + 60))
        clock.now += 1
    return fired


async def test_deadlines_of_the_loss_wait_the_settle_period() -> None:
    assert await _run(settle=30.0) == [30.0]


async def test_without_a_settle_period_they_fire_on_the_first_answer() -> None:
    """What the worker did before the setting (and does with INVOICE_SYNC_RECONNECT_SETTLE=0)."""
    assert await _run(settle=0.0) == [0.0]


async def test_a_deadline_before_the_loss_is_not_held() -> None:
    clock, sink, store, broker = Clock(), FailingSink(), {}, Broker()
    c = _correlator(clock, sink, store)
    sampler = EndOffsetSampler(c.watermarks, broker, topic="acks", settle=30.0, clock=clock)
    await c.on_issued(_issued(1), partition=0)  # warn at T0 + 10
    clock.now = T0 + 20
    assert await sampler.sample([0])  # last contact at T0+20, after the deadline
    broker.lost = True
    clock.now = T0 + 25
    assert not await sampler.sample([0])
    broker.lost = False
    clock.now = T0 + 40
    assert await sampler.sample([0])
    await c.on_tick(0, committed=0)
    assert [a.invoice_id for a in sink.sent] == ["inv-1"]
