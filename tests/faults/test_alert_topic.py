"""Scenario 7: the alert topic refuses every send for a while (its ``max.message.bytes``
lowered through the admin API below any alert's size), then accepts them again.

Sending an alert is infrastructure: while it is refused nothing may be dead-lettered (neither
the invoice nor a tick), and once the topic accepts sends again every due alert arrives.
"""

from __future__ import annotations

import time

from pipeline.contracts.samples import sample_ack, sample_issued
from tests.faults.harness import FaultStack, events, iso, wait_for

REFUSING = {"max.message.bytes": "100"}
RESTORED = {"max.message.bytes": "1048588"}  # the broker's default


def test_refused_alert_sends_are_retried_after_restore_and_nothing_is_dead_lettered(
        stack: FaultStack) -> None:
    stack.use_partitions(1).create_topics()
    worker = stack.worker(WARN_AFTER="3s", CRITICAL_AFTER="1h").wait_ready()
    stack.set_topic_config("alerts", REFUSING)
    now = time.time()
    issued = [sample_issued(seq=n, issued_at=iso(now)) for n in range(1, 16)]
    acked, never = issued[:5], issued[5:]
    stack.produce("issued", events(issued))
    stack.produce("acknowledged", events([
        sample_ack(i["invoice_id"], acknowledged_at=iso(now)) for i in acked]))
    # Refused while they fall due: the broker said no at least once, and every deadline passed.
    wait_for(lambda: "MessageSizeTooLarge" in worker.tail(2000) and time.time() > now + 5, 60,
             "the worker to be refused an alert send")
    assert stack.alerts_now() == []
    worker.check_alive()
    stack.set_topic_config("alerts", RESTORED)

    ids = {i["invoice_id"] for i in never}
    alerts = stack.alerts_once(lambda a: ids <= {x["invoice_id"] for x in a}, timeout=60)
    stack.wait_committed(60)

    per_invoice: dict[str, set[str]] = {}
    for a in alerts:
        per_invoice.setdefault(a["invoice_id"], set()).add(a["alert_id"])
    assert {i: len(per_invoice.get(i, ())) for i in ids} == {i: 1 for i in ids}
    assert set(per_invoice) == ids  # and nothing about the acknowledged ones
    letters = stack.dead_letters()
    assert [(d["source_topic"], d["error_reason"]) for d in letters] == []
    for invoice_id in ids:
        assert stack.invoice(worker, invoice_id)[1]["alerts"], invoice_id
