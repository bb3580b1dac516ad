"""SIGTERM is a graceful stop: stop fetching, finish the event in hand, flush, commit, close the
store, exit 0 within a bounded time; a restart loses no pending invoice and no alert."""

from __future__ import annotations

import re
import time
from collections import Counter
from datetime import UTC, datetime

from pipeline.contracts.samples import sample_ack, sample_issued
from tests.integration.harness import Stack, wait_for

#: The bound on a graceful stop we promise (the Helm chart's terminationGracePeriodSeconds is
#: longer than this).
STOP_WITHIN = 30.0


def _metric(metrics: str, name: str) -> float:
    return sum(float(v) for v in re.findall(rf'^{name}(?:\{{[^}}]*\}})? ([0-9.e+]+)$',
                                            metrics, re.M))


def test_sigterm_while_alerts_drain_loses_nothing_and_duplicates_nothing(stack: Stack) -> None:
    stack.create_topics()
    # Alerts drain at 4/s, so the 24 that fall due together are still going out at SIGTERM.
    settings = {"WARN_AFTER": "3s", "CRITICAL_AFTER": "1h", "ALERT_RATE": "4",
                "ALERT_BURST": "1", "DEGRADED_MIN_INVOICES": "1000"}
    worker = stack.worker(**settings).wait_ready()
    now = datetime.now(UTC).isoformat()
    invoices = [sample_issued(seq=700 + i, issued_at=now) for i in range(30)]
    acked, unacked = invoices[:6], invoices[6:]
    stack.produce_events("issued", invoices)
    stack.produce_events("acknowledged", [sample_ack(i["invoice_id"], acknowledged_at=now)
                                          for i in acked])
    wait_for(lambda: 0 < _metric(worker.metrics(), "invoice_sync_alerts_total") < 20, 60,
             "the first alerts to be out while most are still queued")

    started = time.monotonic()
    assert worker.terminate(timeout=STOP_WITHIN + 30) == 0, worker.tail()
    stopped_in = time.monotonic() - started
    assert stopped_in < STOP_WITHIN, f"graceful stop took {stopped_in:.1f}s"
    assert "worker_stopped" in worker.log_path.read_text(), worker.tail()

    # While it is down, more invoices arrive; one acked invoice is acknowledged twice.
    later = [sample_issued(seq=800 + i, issued_at=datetime.now(UTC).isoformat())
             for i in range(4)]
    stack.produce_events("issued", later)
    stack.produce_events("acknowledged", [sample_ack(acked[0]["invoice_id"],
                                                     acknowledged_at=now)])

    stack.restart(worker).wait_ready()
    must_alert = {i["invoice_id"] for i in [*unacked, *later]}
    alerts = stack.alerts(lambda a: {x["invoice_id"] for x in a} >= must_alert, timeout=120)
    per_invoice = Counter(a["invoice_id"] for a in alerts)
    assert set(per_invoice) == must_alert, "an acknowledged invoice alerted"
    assert all(count == 1 for count in per_invoice.values()), per_invoice
    assert all((a["kind"], a["severity"]) == ("unsynced", "warning") for a in alerts)
    wait_for(lambda: _metric(worker.metrics(), "invoice_sync_pending_invoices") == 28, 30,
             "the restarted worker to hold all 28 unacknowledged invoices")
