"""Scenario 5: acks out of ``acknowledged_at`` order behind a backlog raise no false alarm.

Acks are not in timestamp order across invoices (several upload channels, retries, batched
answers): an ack stamped "now" for one invoice may sit in the partition before an older,
in-time ack for another. A deadline may only fire once every ack produced before it was read.
"""

from __future__ import annotations

import time
from datetime import datetime

from pipeline.contracts.samples import sample_ack, sample_issued
from tests.faults.harness import FaultStack, events, iso, wait_for

WARN_AFTER = 300.0
BACKLOG = 20_000


def test_in_time_ack_behind_a_backlog_and_a_newer_ack_is_no_false_alarm(
        stack: FaultStack) -> None:
    stack.use_partitions(1).create_topics()
    worker = stack.worker(WARN_AFTER=f"{WARN_AFTER:g}s", CRITICAL_AFTER="1h").wait_ready()
    now = time.time()
    # Falls due in a few seconds: taken in while the worker runs, due while it is stopped.
    due_soon = sample_issued(seq=1, issued_at=iso(now - WARN_AFTER + 6))
    stack.produce("issued", events([due_soon]))
    wait_for(lambda: stack.invoice(worker, due_soon["invoice_id"])[0] == 200, 30,
             "the worker to hold the invoice")
    worker.terminate()

    # Issued ten minutes ago, produced while no worker runs.
    long_due = sample_issued(seq=2, issued_at=iso(now - 2 * WARN_AFTER))
    stack.produce("issued", events([long_due]))
    wait_for(lambda: time.time() > now + 7, 10, "the first invoice's deadline to pass")
    stamped_now = sample_ack(sample_issued(seq=3)["invoice_id"], acknowledged_at=iso(time.time()))
    # 20,000 ack records: 500 acks (of invoices issued elsewhere) each delivered 40 times, as a
    # retrying upload channel does. What matters is the offsets they take, and retries keep the
    # worker's table writes (and the suite's time) to 500.
    distinct = [sample_ack(sample_issued(seq=1000 + n)["invoice_id"],
                           acknowledged_at=iso(now - WARN_AFTER)) for n in range(500)]
    backlog = [distinct[n % len(distinct)] for n in range(BACKLOG)]
    in_time = [sample_ack(i["invoice_id"], acknowledged_at=iso(
        datetime.fromisoformat(i["issued_at"]).timestamp() + 60)) for i in (due_soon, long_due)]
    stack.produce_many("acknowledged", events([stamped_now, *backlog, *in_time]))

    stack.restart(worker).wait_ready()
    ids = [due_soon["invoice_id"], long_due["invoice_id"]]
    wait_for(lambda: all(stack.invoice(worker, i)[1].get("status") == "synced" for i in ids),
             120, "both in-time acks to be read")
    stack.wait_committed(60)

    alerts = [a for a in stack.alerts_now() if a["invoice_id"] in ids]
    assert alerts == [], [(a["invoice_id"], a["kind"], a.get("message")) for a in alerts]
