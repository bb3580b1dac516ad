"""SIGKILL at each step of the batch protocol, and recovery from the changelog alone.

The worker persists a batch in steps (pipeline/worker/app.py, pipeline/worker/store.py):
alerts delivered, RocksDB WriteBatch, changelog acknowledged, then the input offset acked for
faust to commit. The test-only hook INVOICE_SYNC_TEST_KILL_AT (pipeline/worker/killpoint.py)
SIGKILLs the worker at one step; a restart on the same state dir must lose no alert condition
and keep every pending invoice.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from pipeline.contracts.samples import sample_ack, sample_issued
from pipeline.worker.killpoint import ENV, POINTS
from tests.integration.harness import Stack, wait_for


def _pending_total(metrics: str) -> float:
    return sum(float(v) for v in re.findall(
        r'^invoice_sync_pending_invoices\{[^}]*\} ([0-9.e+]+)$', metrics, re.M))


def _invoices(seq: int, count: int) -> list[dict[str, Any]]:
    now = datetime.now(UTC).isoformat()
    return [sample_issued(seq=seq + i, issued_at=now) for i in range(count)]


# after_changelog is the one point where the restart recovers records from the changelog; the
# fetches made while that recovery ended were dropped by faust's queue clearing and, with no
# committed offset yet, never read again (pipeline/worker/transport.py, _on_queues_cleared).
@pytest.mark.parametrize("point", POINTS)
def test_sigkill_at_each_batch_step_loses_no_alert_and_no_pending_invoice(
        stack: Stack, point: str) -> None:
    stack.create_topics()
    worker = stack.worker(WARN_AFTER="6s", CRITICAL_AFTER="1h", TEST_KILL_AT=point)
    worker.wait_ready()
    invoices = _invoices(500, 8)
    unacked, acked = invoices[:4], invoices[4:]
    now = datetime.now(UTC).isoformat()
    stack.produce_events("issued", invoices)
    stack.produce_events("acknowledged",
                         [sample_ack(i["invoice_id"], acknowledged_at=now) for i in acked])
    assert worker.proc is not None
    wait_for(lambda: worker.proc is not None and worker.proc.poll() is not None, 90,
             f"the worker to die at {point}")
    assert worker.proc.returncode == -9, worker.tail()

    del worker.env["INVOICE_SYNC_" + ENV.removeprefix("INVOICE_SYNC_")]
    stack.restart(worker).wait_ready()
    ids = {i["invoice_id"] for i in unacked}
    try:
        alerts = stack.alerts(lambda a: {x["invoice_id"] for x in a} >= ids, timeout=90)
    except AssertionError as exc:
        views = [worker.http(f"/invoices/{i['invoice_id']}") for i in invoices]
        raise AssertionError(f"{exc}\nviews: {views}\nmetrics: {worker.metrics()}") from None
    # Redelivery may repeat an alert id; each unacked invoice has exactly one, nothing else.
    per_invoice = {i: {a["alert_id"] for a in alerts if a["invoice_id"] == i} for i in ids}
    assert all(len(alert_ids) == 1 for alert_ids in per_invoice.values()), per_invoice
    assert {a["invoice_id"] for a in alerts} == ids
    assert all(a["kind"] == "unsynced" and a["severity"] == "warning" for a in alerts)
    for invoice in invoices:
        status, body = worker.http(f"/invoices/{invoice['invoice_id']}")
        assert status == 200, body
        expected = "pending" if invoice in unacked else "synced"
        assert orjson.loads(body)["status"] == expected, body
    wait_for(lambda: _pending_total(worker.metrics()) == 4, 30,
             "the pending gauge to show the 4 unacked invoices")


def test_recovery_from_the_changelog_alone_gives_the_same_records(stack: Stack) -> None:
    stack.create_topics()
    first = stack.worker("w1", WARN_AFTER="4s", CRITICAL_AFTER="1h").wait_ready()
    invoices = _invoices(600, 10)
    now = datetime.now(UTC).isoformat()
    stack.produce_events("issued", invoices)
    stack.produce_events("acknowledged",
                         [sample_ack(i["invoice_id"], acknowledged_at=now) for i in invoices[5:]])
    stack.alerts(lambda a: {x["invoice_id"] for x in a}
                 >= {i["invoice_id"] for i in invoices[:5]}, timeout=60)

    def views(worker: Any) -> dict[str, Any]:
        answers = {}
        for invoice in invoices:
            status, body = worker.http(f"/invoices/{invoice['invoice_id']}")
            assert status == 200, body
            view = orjson.loads(body)
            view.pop("served_by", None)
            view.pop("age_seconds", None)
            answers[invoice["invoice_id"]] = view
        return answers

    # Once every invoice is alerted or synced, the records stop changing.
    wait_for(lambda: all(v["status"] == "synced" or v["alerts"]
                         for v in views(first).values()), 30, "the records to settle")
    from_files = views(first)
    first.terminate()
    second = stack.worker("w2", WARN_AFTER="4s", CRITICAL_AFTER="1h")  # empty data dir
    second.wait_ready()
    assert views(second) == from_files
