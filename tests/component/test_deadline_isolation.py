"""One defective invoice never blocks its partition's deadlines; infrastructure failures retry."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from aiokafka.errors import KafkaTimeoutError, MessageSizeTooLargeError

from pipeline.correlation.alerts import Alert
from pipeline.correlation.facts import Issued
from pipeline.correlation.ratelimit import TokenBucket
from pipeline.correlation.sla import SlaRules, Thresholds
from pipeline.worker.correlator import Correlator
from pipeline.worker.wire import alert_to_json
from tests.component.test_correlator import T0, Clock, _issued

#: 0001-01-01T00:00:00+00:01 as epoch seconds: year 0 in UTC. Accepted by the contract before
#: issue 10, it is still what an old table may hold.
YEAR_ZERO = -62135596860.0


class WireSink:
    """The alert topic as the worker feeds it: each alert serialised to its contract first."""

    def __init__(self) -> None:
        self.sent: list[Alert] = []
        self.refuse: BaseException | None = None

    async def __call__(self, alerts: Sequence[Alert]) -> None:
        payloads = [alert_to_json(a) for a in alerts]  # raises on an unrepresentable time
        if self.refuse is not None:
            raise self.refuse
        assert len(payloads) == len(alerts)
        self.sent.extend(alerts)


def _correlator(clock: Clock, sink: WireSink, isolated: list[str]) -> Correlator:
    return Correlator(store={}, sla=SlaRules(default=Thresholds(10.0, 100.0)), emit=sink,
                      drain=TokenBucket(1000.0, 1000), clock=clock,
                      on_isolated=isolated.append)


async def _tick(c: Correlator, clock: Clock) -> None:
    c.watermarks.sample(0, clock.now, 0)
    await c.on_tick(0, committed=0)


async def test_an_invoice_whose_alert_cannot_be_built_does_not_block_later_deadlines() -> None:
    clock, sink, isolated = Clock(), WireSink(), []
    c = _correlator(clock, sink, isolated)
    await c.on_issued(Issued("bad-0", "ev-bad", YEAR_ZERO, "110000", "erp-a",
                             "91350100M000100Y43"), partition=0)
    for n in range(10):
        await c.on_issued(_issued(n), partition=0)
    clock.now = T0 + 30
    await _tick(c, clock)
    assert sorted(a.invoice_id for a in sink.sent) == [f"inv-{n}" for n in range(10)]
    assert isolated == ["deadline_failed"]
    # Isolated once: later ticks neither fail nor retry it.
    clock.now = T0 + 200
    await _tick(c, clock)
    assert isolated == ["deadline_failed"]
    assert len([a for a in sink.sent if a.severity == "critical"]) == 10


@pytest.mark.parametrize("error", [KafkaTimeoutError(), MessageSizeTooLargeError(),
                                   TimeoutError()], ids=type)
async def test_an_infrastructure_failure_keeps_the_invoices_scheduled_and_backs_off(
        error: BaseException) -> None:
    clock, sink, isolated = Clock(), WireSink(), []
    c = _correlator(clock, sink, isolated)
    for n in range(3):
        await c.on_issued(_issued(n), partition=0)
    clock.now = T0 + 30
    sink.refuse = error
    with pytest.raises(type(error)):
        await _tick(c, clock)
    assert len(c.deadlines[0]) == 3 and isolated == []
    sink.refuse = None
    await _tick(c, clock)  # within the backoff: not retried yet
    assert sink.sent == []
    clock.now += 1.0
    await _tick(c, clock)
    assert sorted(a.invoice_id for a in sink.sent) == ["inv-0", "inv-1", "inv-2"]
    assert isolated == []
