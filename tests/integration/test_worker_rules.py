"""Every correlation rule, through a real worker on the real broker."""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from pipeline.contracts.samples import sample_ack, sample_issued
from tests.integration.harness import Stack, wait_for


def _iso(at: datetime) -> str:
    return at.isoformat()


def _of(alerts: list[dict[str, Any]], invoice: dict[str, Any]) -> list[tuple[str, str]]:
    return [(a["kind"], a["severity"]) for a in alerts if a["invoice_id"] == invoice["invoice_id"]]


def test_rules_on_a_live_stream(stack: Stack) -> None:
    stack.create_topics()
    worker = stack.worker(WARN_AFTER="4s", CRITICAL_AFTER="8s").wait_ready()
    now = datetime.now(UTC)
    acked_in_time = sample_issued(seq=11, issued_at=_iso(now - timedelta(seconds=1)))
    out_of_order = sample_issued(seq=12, issued_at=_iso(now - timedelta(seconds=1)))
    rejected_then_fixed = sample_issued(seq=13, issued_at=_iso(now))
    duplicate_issue = sample_issued(seq=14, issued_at=_iso(now))
    never_acked = sample_issued(seq=15, issued_at=_iso(now + timedelta(seconds=1)))
    # The acknowledgement for out_of_order arrives before its invoice.
    stack.produce_events("acknowledged", [
        sample_ack(out_of_order["invoice_id"], acknowledged_at=_iso(now)),
    ])
    stack.produce_events("issued", [acked_in_time, out_of_order, rejected_then_fixed,
                                    duplicate_issue, duplicate_issue, never_acked])
    stack.produce_events("acknowledged", [
        sample_ack(acked_in_time["invoice_id"], acknowledged_at=_iso(now)),
        sample_ack(rejected_then_fixed["invoice_id"], status="rejected",
                   acknowledged_at=_iso(now)),
    ])
    stack.alerts(lambda a: _of(a, rejected_then_fixed) == [("rejected", "warning")])
    # The corrected resubmission is accepted after the rejection (and after the warning).
    alerts = stack.alerts(lambda a: ("unsynced", "warning") in _of(a, rejected_then_fixed))
    stack.produce_events("acknowledged", [
        sample_ack(rejected_then_fixed["invoice_id"],
                   acknowledged_at=_iso(datetime.now(UTC))),
    ])
    # never_acked has the latest deadlines: once it escalates to critical, every earlier
    # deadline has been evaluated, so the absence of other alerts below is meaningful.
    alerts = stack.alerts(
        lambda a: ("unsynced", "critical") in _of(a, never_acked)
        and ("resolved", "info") in _of(a, rejected_then_fixed))

    assert _of(alerts, acked_in_time) == []
    assert _of(alerts, out_of_order) == []
    assert _of(alerts, never_acked) == [("unsynced", "warning"), ("unsynced", "critical")]
    assert Counter(_of(alerts, duplicate_issue)) == Counter(
        {("unsynced", "warning"): 1, ("unsynced", "critical"): 1})
    fixed = _of(alerts, rejected_then_fixed)
    assert fixed[:2] == [("rejected", "warning"), ("unsynced", "warning")]
    assert fixed[-1] == ("resolved", "info")
    resolved = next(a for a in alerts if a["invoice_id"] == rejected_then_fixed["invoice_id"]
                    and a["kind"] == "resolved")
    earlier = {a["alert_id"] for a in alerts if a["invoice_id"] == rejected_then_fixed[
        "invoice_id"] and a["kind"] != "resolved"}
    assert set(resolved["resolved_alert_ids"]) == earlier
    assert resolved["latency_seconds"] > 0
    rejection = next(a for a in alerts if a["kind"] == "rejected")
    assert rejection["reason_code"] == "E1001" and rejection["reason"]
    warning = next(a for a in alerts if a["invoice_id"] == never_acked["invoice_id"])
    assert warning["deadline_at"] and warning["detected_at"] and warning["age_seconds"] >= 4
    assert warning["region_code"] == "110000" and warning["source_system"] == "erp-beijing"

    # Metrics reflect the same story.
    text = worker.metrics()
    assert re.search(r'invoice_sync_alerts_total\{kind="rejected".*\} 1\.0', text)
    assert 'invoice_sync_latency_seconds_count{region_code="110000"' in text
    wait_for(lambda: re.search(
        r'invoice_sync_pending_invoices\{age_band="past_critical",region_code="110000"\} 2\.0',
        worker.metrics()), 10, "the pending gauge to count the two escalated invoices")
