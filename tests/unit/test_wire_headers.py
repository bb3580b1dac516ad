"""Alert record headers (CloudEvents binary mode), dead-letter provenance headers, and which
dead letters a replay selects."""

from __future__ import annotations

from datetime import datetime

import pytest

from pipeline.correlation.alerts import Alert
from pipeline.deadletter_replay import Selection
from pipeline.worker.deadletter import dead_letter_headers, header, replay_headers
from pipeline.worker.wire import alert_headers


def alert(**fields: object) -> Alert:
    base: dict[str, object] = dict(
        alert_id="a" * 32, kind="unsynced", severity="warning", invoice_id="24111000000000000042",
        region_code="110000", source_system="erp", seller_tax_id=None, issued_at=None,
        deadline_at=None, detected_at=1_764_000_000.5, age_seconds=None, reason_code=None,
        reason=None, latency_seconds=None, resolved_alert_ids=(), scope=None,
        unsynced_count=None, due_count=None, window_seconds=None, message="")
    base.update(fields)
    return Alert(**base)  # type: ignore[arg-type]


def test_alert_headers_are_cloudevents_binary_mode() -> None:
    headers = dict(alert_headers(alert(), "urn:invoice-sync:prod"))
    assert headers["ce_specversion"] == b"1.0" and headers["ce_id"] == b"a" * 32
    assert headers["ce_type"] == b"cn.invoice-sync.alert.unsynced"
    assert headers["ce_subject"] == b"24111000000000000042"
    assert headers["ce_source"] == b"urn:invoice-sync:prod"
    assert datetime.fromisoformat(headers["ce_time"].decode()).timestamp() == 1_764_000_000.5
    assert headers["content-type"] == b"application/json" and headers["schema_version"] == b"1"


def test_a_degraded_alert_names_its_scope_as_subject() -> None:
    headers = dict(alert_headers(alert(kind="degraded", severity="critical", invoice_id="",
                                       scope="region_code"), "urn:x"))
    assert headers["ce_subject"] == b"region_code:110000"
    assert headers["ce_type"] == b"cn.invoice-sync.alert.degraded"


def test_dead_letter_keeps_original_headers_and_drops_stale_provenance() -> None:
    original = [("traceparent", b"00-1"), ("error_reason", b"old"),
                ("__connect.errors.topic", b"old")]
    headers = dead_letter_headers("in", 2, 41, "contract", "bad field", original=original)
    assert headers[0] == ("traceparent", b"00-1")
    assert header(headers, "error_reason") == "contract"
    assert [v for k, v in headers if k == "__connect.errors.topic"] == [b"in"]
    assert header(headers, "__connect.errors.offset") == "41"
    assert replay_headers(headers) == [("traceparent", b"00-1")]


@pytest.mark.parametrize(("selection", "chosen"), [
    (Selection(), True),
    (Selection(source_topic="in"), True),
    (Selection(source_topic="other"), False),
    (Selection(reason="not_json"), False),
    (Selection(source_partition=2, from_offset=41, to_offset=41), True),
    (Selection(from_offset=42), False),
    (Selection(to_offset=40), False),
])
def test_replay_selection(selection: Selection, chosen: bool) -> None:
    assert selection.matches(dead_letter_headers("in", 2, 41, "contract", "x")) is chosen
