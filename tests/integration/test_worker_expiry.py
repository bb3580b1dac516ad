"""Retention on the real worker: synced records and held acks are found by the table sweep."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson

from pipeline.contracts.samples import sample_ack, sample_issued
from tests.integration.harness import Stack, wait_for


def test_synced_records_expire_and_held_acks_become_orphan_alerts(stack: Stack) -> None:
    stack.create_topics()
    worker = stack.worker(WARN_AFTER="1h", CRITICAL_AFTER="2h", RETENTION="3s").wait_ready()
    now = datetime.now(UTC).isoformat()
    synced = sample_issued(seq=900, issued_at=now)
    pending = sample_issued(seq=901, issued_at=now)
    stack.produce_events("issued", [synced, pending])
    stack.produce_events("acknowledged", [
        sample_ack(synced["invoice_id"], acknowledged_at=now),
        sample_ack("24111000000000000999", acknowledged_at=now),  # its invoice never comes
    ])
    wait_for(lambda: worker.http(f"/invoices/{synced['invoice_id']}")[0] == 200, 30,
             "the synced invoice to be recorded")

    alerts = stack.alerts(lambda a: any(x["kind"] == "orphan_ack" for x in a), timeout=60)
    assert [(a["kind"], a["invoice_id"]) for a in alerts] == [
        ("orphan_ack", "24111000000000000999")]
    wait_for(lambda: worker.http(f"/invoices/{synced['invoice_id']}")[0] == 404, 30,
             "the synced record to expire")
    assert worker.http("/invoices/24111000000000000999")[0] == 404
    # An unacknowledged invoice never expires: losing it is what this service exists to prevent.
    status, body = worker.http(f"/invoices/{pending['invoice_id']}")
    assert status == 200 and orjson.loads(body)["status"] == "pending"
