"""Scenario 3: a worker restarted on an empty data dir recovers from the changelog alone.

Same answers from ``/invoices/{id}`` for every invoice, and no new alerts: at-least-once may
repeat an alert, never with a new alert_id.
"""

from __future__ import annotations

import shutil
import time
from typing import Any

from pipeline.contracts.samples import sample_ack, sample_issued
from tests.faults.harness import FaultStack, events, iso

VOLATILE = ("age_seconds", "served_by")  # the clock and the URL, not the state


def _answers(stack: FaultStack, worker: Any, ids: list[str]) -> dict[str, Any]:
    out = {}
    for invoice_id in ids:
        status, view = stack.invoice(worker, invoice_id)
        out[invoice_id] = (status, {k: v for k, v in view.items() if k not in VOLATILE})
    return out


def test_restart_on_an_empty_data_dir_gives_the_same_answers_and_no_new_alerts(
        stack: FaultStack) -> None:
    stack.use_partitions(3).create_topics()
    worker = stack.worker(WARN_AFTER="3s", CRITICAL_AFTER="1h").wait_ready()
    now = time.time()
    issued = [sample_issued(seq=n, issued_at=iso(now)) for n in range(1, 41)]
    acked, rejected, never = issued[:15], issued[15:25], issued[25:]
    orphan_acks = [sample_ack(sample_issued(seq=100 + n)["invoice_id"],
                              acknowledged_at=iso(now)) for n in range(5)]
    stack.produce_many("issued", events(issued))
    stack.produce_many("acknowledged", events([
        *(sample_ack(i["invoice_id"], acknowledged_at=iso(now)) for i in acked),
        *(sample_ack(i["invoice_id"], status="rejected", acknowledged_at=iso(now))
          for i in rejected),
        *orphan_acks]))
    due = {i["invoice_id"] for i in rejected + never}
    before = stack.alerts(lambda a: due <= {x["invoice_id"] for x in a
                                            if x["kind"] == "unsynced"})
    stack.wait_committed(60)
    ids = [i["invoice_id"] for i in issued] + [a["invoice_id"] for a in orphan_acks]
    answers = _answers(stack, worker, ids)
    assert {s for s, _ in answers.values()} == {200}

    worker.terminate()
    shutil.rmtree(worker.env["INVOICE_SYNC_DATA_DIR"])
    stack.restart(worker).wait_ready()
    # One new never-acked invoice, due last: once it alerted, every deadline before it was
    # evaluated by the recovered worker, so the absence of other new alerts means something.
    sentinel = sample_issued(seq=999, issued_at=iso(time.time()))
    stack.produce("issued", events([sentinel]))
    after = stack.alerts(lambda a: any(x["invoice_id"] == sentinel["invoice_id"] for x in a))

    assert _answers(stack, worker, ids) == answers
    new_ids = {a["alert_id"] for a in after} - {a["alert_id"] for a in before}
    assert {a["invoice_id"] for a in after if a["alert_id"] in new_ids} == {
        sentinel["invoice_id"]}
