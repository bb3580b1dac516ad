"""Records this version cannot decode (a newer state format mid-upgrade, or corrupt bytes) are
counted, logged and left untouched; they never stop a rebuild, a sweep or a tick."""

from __future__ import annotations

import pytest

from pipeline.correlation.ratelimit import TokenBucket
from pipeline.correlation.sla import SlaRules, Thresholds
from pipeline.correlation.state import LATEST_VERSION, InvoiceState, UndecodableRecord, encode
from pipeline.worker.correlator import Correlator
from tests.component.test_correlator import T0, Clock, FailingSink, _issued

#: A record as a worker of a later version (state format 2) might write it.
FUTURE = bytes([LATEST_VERSION + 1]) + encode(InvoiceState("inv-future", 0))[1:]


def _correlator(store: dict[str, bytes], isolated: list[str], clock: Clock,
                sink: FailingSink) -> Correlator:
    return Correlator(store=store, sla=SlaRules(default=Thresholds(10.0, 100.0)), emit=sink,
                      drain=TokenBucket(1000.0, 1000), clock=clock,
                      on_isolated=isolated.append)


async def test_rebuild_counts_and_keeps_what_it_cannot_decode() -> None:
    clock, sink, store, isolated = Clock(), FailingSink(), {}, []
    c = _correlator(store, isolated, clock, sink)
    for n in range(3):
        await c.on_issued(_issued(n), partition=0)
    store["inv-future"] = FUTURE
    fresh = _correlator(store, isolated, clock, sink)
    assert fresh.rebuild(store.items(), {0}) == 3
    assert isolated == ["undecodable"]
    assert len(fresh.deadlines[0]) == 3
    assert store["inv-future"] == FUTURE
    clock.now = T0 + 30
    fresh.watermarks.sample(0, clock.now, 0)
    await fresh.on_tick(0, committed=0)
    assert sorted(a.invoice_id for a in sink.sent) == ["inv-0", "inv-1", "inv-2"]


async def test_sweep_leaves_an_undecodable_record_alone() -> None:
    clock, sink, store, isolated = Clock(), FailingSink(), {"inv-future": FUTURE}, []
    c = _correlator(store, isolated, clock, sink)
    clock.now = T0 + 30 * 86400
    assert await c.sweep(0, list(store.items())) == 0
    assert store == {"inv-future": FUTURE}


async def test_an_event_for_an_undecodable_record_raises_and_leaves_it() -> None:
    clock, sink, store, isolated = Clock(), FailingSink(), {"inv-future": FUTURE}, []
    c = _correlator(store, isolated, clock, sink)
    with pytest.raises(UndecodableRecord):
        await c.on_issued(_issued(0).__class__("inv-future", "ev", T0, "110000", "erp-a",
                                               "91350100M000100Y43"), partition=0)
    assert store == {"inv-future": FUTURE}
    assert isolated == ["undecodable"]
