"""The alert's ``probable_cause``, the ``maintenance`` kind and the new scopes on the wire."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
from pydantic import ValidationError

from pipeline.contracts import SyncAlert, compact_error
from pipeline.contracts.samples import sample_alert
from pipeline.correlation.alerts import Alert
from pipeline.correlation.causes import Cause
from pipeline.worker.wire import alert_key, alert_to_json

SCOPE_ALERT = dict(invoice_id="", seller_tax_id="", source_system="", region_code="",
                   issued_at=None, deadline_at=None, age_seconds=None)
CAUSE = {"code": "submission_failed", "summary": "upload failed: connect timeout",
         "evidence": {"attempts": 3, "channel": "leqi", "failed": True, "share": 0.5,
                      "last_attempt_at": "2024-05-01T10:00:30+08:00"}}


@pytest.mark.parametrize("event", [
    sample_alert(probable_cause=CAUSE),
    sample_alert(probable_cause={"code": "unknown", "summary": "no evidence"}),
    sample_alert(kind="maintenance", severity="info", scope="platform",
                 probable_cause={**CAUSE, "code": "platform_maintenance"}, **SCOPE_ALERT),
    sample_alert(kind="maintenance", severity="info", scope="region_code",
                 **{**SCOPE_ALERT, "region_code": "110000"}),
    sample_alert(kind="degraded", severity="critical", scope="client_version",
                 client_version="uploader/2.9.0", unsynced_count=30, due_count=40,
                 window_seconds=300.0, **SCOPE_ALERT),
    sample_alert(kind="degraded", severity="critical", scope="platform", unsynced_count=300,
                 due_count=400, window_seconds=300.0, **SCOPE_ALERT),
], ids=["unsynced with cause", "no evidence", "maintenance platform", "maintenance region",
        "degraded client version", "degraded platform"])
def test_valid(event: dict[str, Any]) -> None:
    alert = SyncAlert.model_validate_json(json.dumps(event, ensure_ascii=False))
    assert SyncAlert.model_validate_json(alert.to_wire()) == alert


@pytest.mark.parametrize(("event", "fragment"), [
    (sample_alert(probable_cause={**CAUSE, "code": "gremlins"}), "probable_cause.code"),
    (sample_alert(probable_cause={"code": "unknown"}), "probable_cause.summary"),
    (sample_alert(probable_cause={**CAUSE, "evidence": {"nested": {"a": 1}}}),
     "probable_cause.evidence.nested"),
    (sample_alert(kind="maintenance", severity="info"), 'invoice_id: must be ""'),
    (sample_alert(kind="maintenance", severity="info", **SCOPE_ALERT),
     "scope: required for a maintenance alert"),
    (sample_alert(kind="degraded", severity="critical", scope="client_version",
                  unsynced_count=3, due_count=4, window_seconds=300.0, **SCOPE_ALERT),
     "client_version: names the client_version of scope"),
], ids=["unknown code", "no summary", "nested evidence", "maintenance with invoice",
        "maintenance without scope", "client version scope without value"])
def test_invalid(event: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ValidationError) as caught:
        SyncAlert.model_validate_json(json.dumps(event, ensure_ascii=False))
    assert fragment in compact_error(caught.value)


def core_alert(**overrides: Any) -> Alert:
    fields: dict[str, Any] = dict(
        alert_id="a1", kind="unsynced", severity="warning", invoice_id="26111000000000000001",
        region_code="110000", source_system="erp-beijing", seller_tax_id="91350100M000100Y43",
        issued_at=1_764_400_000.0, deadline_at=1_764_400_600.0, detected_at=1_764_400_601.0,
        age_seconds=601.0, reason_code=None, reason=None, latency_seconds=None,
        resolved_alert_ids=(), scope=None, unsynced_count=None, due_count=None,
        window_seconds=None, message="no acknowledgement")
    fields.update(overrides)
    return Alert(**fields)


def test_the_worker_writes_the_cause_with_iso_times() -> None:
    cause = Cause("awaiting_platform", "uploaded, no answer",
                  (("attempts", 1), ("last_attempt_at", 1_764_400_030.0), ("channel", "leqi")))
    document = orjson.loads(alert_to_json(core_alert(probable_cause=cause)))
    assert document["probable_cause"] == {
        "code": "awaiting_platform", "summary": "uploaded, no answer",
        "evidence": {"attempts": 1, "last_attempt_at": "2025-11-29T07:07:10+00:00",
                     "channel": "leqi"}}
    assert "client_version" not in document  # empty fields are omitted
    assert "probable_cause" not in orjson.loads(alert_to_json(core_alert()))


def test_scope_alert_keys() -> None:
    scope = dict(invoice_id="", region_code=None, source_system=None, seller_tax_id=None,
                 issued_at=None, deadline_at=None, age_seconds=None, unsynced_count=1,
                 due_count=2, window_seconds=300.0)
    assert alert_key(core_alert(kind="degraded", scope="platform", **scope)) == b"platform:"
    assert alert_key(core_alert(kind="degraded", scope="client_version",
                                client_version="up/2.9", **scope)) == b"client_version:up/2.9"
