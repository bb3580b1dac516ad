"""The operator API's scans share the event loop: /summary and a /pending filter that matches
nothing yield between slices (so /healthz and correlation keep running), and /pending stops at
its scan budget with a point to continue from."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from pipeline.correlation.pending import PendingBook
from pipeline.correlation.state import InvoiceState, encode
from pipeline.queries.params import PendingQuery, SummaryQuery
from pipeline.worker.api import SCAN_SLICE, OperatorApi

T0 = 1_800_000_000.0
N = 5 * SCAN_SLICE


def fake_worker(budget: int) -> Any:
    book = PendingBook()
    table: dict[str, bytes] = {}
    for i in range(N):
        state = InvoiceState(f"inv-{i:05d}", 0, issued_at=T0 + i, region_code="310000",
                             warn_at=T0 + 900, critical_at=T0 + 3600)
        table[state.invoice_id] = encode(state)
        book.update(None, state)
    return SimpleNamespace(
        app=SimpleNamespace(rebalancing=False), table=table,
        correlator=SimpleNamespace(pending=book),
        batch_store=SimpleNamespace(records=lambda: iter(table.items()), find=table.get),
        pending_oldest_first=book.oldest_first,
        settings=SimpleNamespace(api_scan_budget=budget), state_rebuilt=lambda: True,
        active_partitions=lambda: {0})


async def beats_while(work: Any) -> tuple[Any, int]:
    """Run ``work`` and count how often another task got the loop meanwhile."""
    beats, done = 0, False

    async def heartbeat() -> None:
        nonlocal beats
        while not done:
            beats += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(heartbeat())
    result = await work
    done = True
    await task
    return result, beats


async def test_summary_scan_yields_between_slices() -> None:
    api = OperatorApi(fake_worker(budget=N))
    summary, beats = await beats_while(api.local_summary(SummaryQuery()))
    assert summary.totals["issued"] == N
    assert beats >= N // SCAN_SLICE - 1


async def test_a_pending_filter_matching_nothing_yields_and_stops_at_the_budget() -> None:
    budget = 3 * SCAN_SLICE + 7
    api = OperatorApi(fake_worker(budget=budget))
    page, beats = await beats_while(api.local_pending(PendingQuery(region_code="110000")))
    assert page["items"] == [] and page["has_more"] is False
    assert page["scanned_to"] == [T0 + budget - 1, f"inv-{budget - 1:05d}"]
    assert beats >= 3
