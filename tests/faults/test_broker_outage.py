"""Scenario 2: the broker stops for 30 s mid-stream and comes back on the same port.

Producers buffer what they issue and acknowledge meanwhile and deliver it when the broker is
back; deadlines fall during the loss. Nothing may be lost, no acknowledged invoice may alert
(its ack was produced before its deadline, only delivered late), and alerts must resume.
"""

from __future__ import annotations

import time

from pipeline.localkafka.broker import BrokerInfo, status
from pipeline.localkafka.testing import restart_broker, stop_broker
from tests.faults.harness import FaultStack, Traffic

OUTAGE = 30.0


def test_broker_stop_and_restart_mid_stream_loses_nothing_and_alarms_nothing_false(
        stack: FaultStack, broker: BrokerInfo) -> None:
    stack.use_partitions(3).create_topics()
    # The settle period after the broker is back (default 2m) is what lets the producers'
    # buffered acks land before the deadlines of the outage fire; 20 s fits this test's
    # producers (they deliver within seconds of the restart) and its 90 s wait for alerts.
    worker = stack.worker(WARN_AFTER="3s", CRITICAL_AFTER="1h",
                          RECONNECT_SETTLE="20s").wait_ready()
    traffic = Traffic(stack, rate=10, ack_after=0.5, never_every=10).start()
    try:
        time.sleep(5)  # the timetable: five seconds of normal traffic first
        stop_broker(broker)
        time.sleep(OUTAGE)  # the outage itself (its length is the scenario, not a wait)
    finally:
        if status(broker.data_dir) is None:
            restart_broker(broker)
    worker.check_alive()
    time.sleep(5)  # five seconds of traffic after it
    traffic.stop()
    assert traffic.failed == [], f"{len(traffic.failed)} records never reached the broker"

    never = traffic.never_acked
    stack.alerts_once(lambda a: never <= {x["invoice_id"] for x in a}, timeout=90)
    stack.wait_committed(90)
    alerts = stack.alerts_now()

    warnings: dict[str, set[str]] = {}
    for a in alerts:
        if a["kind"] == "unsynced" and a["severity"] == "warning":
            warnings.setdefault(a["invoice_id"], set()).add(a["alert_id"])
    silent = sorted(i for i in never if len(warnings.get(i, ())) != 1)
    assert silent == [], f"{len(silent)} of {len(never)} never-acked invoices: not one alert id"
    false_alarms = sorted(set(warnings) & traffic.acked_ids)
    assert false_alarms == [], (
        f"{len(false_alarms)} of {len(traffic.acked_ids)} acked invoices alerted unsynced")
    state = stack.changelog()
    lost = [i["invoice_id"] for i in traffic.issued
            if state.get(i["invoice_id"]) is None or state[i["invoice_id"]].issued_at is None]
    unsynced = [i for i in traffic.acked_ids if state.get(i) is None or not state[i].is_synced]
    assert (len(lost), len(unsynced)) == (0, 0), (lost[:5], unsynced[:5])
    for invoice_id in sorted(never)[:20]:
        assert stack.invoice(worker, invoice_id)[1]["status"] == "pending"
