"""Crash, restart, late start and scale-out: nothing missed, nothing falsely alerted."""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime, timedelta

from pipeline.contracts.samples import sample_ack, sample_issued
from tests.integration.harness import Stack, wait_for


def _pending_total(metrics: str) -> float:
    return sum(float(v) for v in re.findall(
        r'^invoice_sync_pending_invoices\{[^}]*\} ([0-9.e+]+)$', metrics, re.M))


def test_sigkill_restart_keeps_pending_invoices_and_alerts_each_once(stack: Stack) -> None:
    stack.create_topics()
    worker = stack.worker(WARN_AFTER="15s").wait_ready()
    now = datetime.now(UTC)
    invoices = [sample_issued(seq=100 + i, issued_at=now.isoformat()) for i in range(12)]
    stack.produce_events("issued", invoices)
    wait_for(lambda: _pending_total(worker.metrics()) == 12, 30,
             "the worker to hold 12 pending invoices")
    worker.kill()  # SIGKILL: no shutdown, no final commit

    stack.restart(worker).wait_ready()
    ids = {i["invoice_id"] for i in invoices}
    alerts = stack.alerts(lambda a: {x["invoice_id"] for x in a} >= ids, timeout=90)
    per_invoice = {i: {a["alert_id"] for a in alerts if a["invoice_id"] == i} for i in ids}
    assert all(len(alert_ids) == 1 for alert_ids in per_invoice.values()), per_invoice
    assert all(a["kind"] == "unsynced" and a["severity"] == "warning" for a in alerts)
    # Redelivery may repeat an alert id; nothing else may: every id belongs to one invoice.
    assert len({a["alert_id"] for a in alerts}) == len(ids)
    wait_for(lambda: _pending_total(worker.metrics()) == 12, 30,
             "the pending gauge to be rebuilt from the recovered table")


def test_late_start_onto_a_backlog_raises_no_false_alert(stack: Stack) -> None:
    """Issues and acks produced an hour ago, long past warn_after: only the unacked alert."""
    stack.create_topics()
    start = datetime.now(UTC) - timedelta(hours=1)
    acked = [sample_issued(seq=200 + i, issued_at=(start + timedelta(seconds=i)).isoformat())
             for i in range(40)]
    unacked = sample_issued(seq=299, issued_at=(start + timedelta(seconds=60)).isoformat())
    stack.produce_events("issued", [*acked, unacked])
    stack.produce_events("acknowledged", [
        sample_ack(i["invoice_id"],
                   acknowledged_at=(datetime.fromisoformat(i["issued_at"])
                                    + timedelta(seconds=2)).isoformat())
        for i in acked])

    # Critical after 2h: an hour-old backlog is past warning only, so exactly one alert is due.
    stack.worker(WARN_AFTER="4s", CRITICAL_AFTER="2h").wait_ready()
    # The unacked invoice has the latest deadline: when its alert is out, all others were due.
    alerts = stack.alerts(lambda a: any(x["invoice_id"] == unacked["invoice_id"] for x in a))
    assert [(a["invoice_id"], a["kind"]) for a in alerts] == [
        (unacked["invoice_id"], "unsynced")]


def test_two_workers_split_partitions_and_alert_each_invoice_once(stack: Stack) -> None:
    stack.create_topics()
    first = stack.worker("w1", WARN_AFTER="6s")
    second = stack.worker("w2", WARN_AFTER="6s")
    first.wait_ready()
    second.wait_ready()
    wait_for(lambda: first.ready() and second.ready(), 60, "both workers to own partitions")
    now = datetime.now(UTC)
    invoices = [sample_issued(seq=300 + i, issued_at=now.isoformat()) for i in range(16)]
    stack.produce_events("issued", invoices)
    ids = {i["invoice_id"] for i in invoices}
    alerts = stack.alerts(lambda a: {x["invoice_id"] for x in a} >= ids, timeout=90)
    assert Counter(a["invoice_id"] for a in alerts) == Counter({i: 1 for i in ids})
    # Both workers did part of the work.
    for worker in (first, second):
        assert re.search(r'invoice_sync_alerts_total\{kind="unsynced".*\} [1-9]',
                         worker.metrics()), worker.tail()
