"""Conversions between the wire contracts (pydantic, ISO timestamps) and the core's plain facts."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

import orjson

from pipeline.contracts import InvoiceIssued, InvoiceSubmitted, SyncAlert, TaxAcknowledged
from pipeline.contracts.action import InvoiceAction
from pipeline.correlation.alerts import Alert
from pipeline.correlation.causes import Cause
from pipeline.correlation.facts import Ack, Action, Issued, Submission
from pipeline.schema_export import schema_id


def to_issued(event: InvoiceIssued) -> Issued:
    """The facts of an invoice.issued event that the correlation needs."""
    # Positionally, in Issued's field order (a frozen dataclass: keywords cost twice as much).
    return Issued(event.invoice_id, event.event_id, event.issued_at.timestamp(),
                  event.region_code, event.source_system, event.seller_tax_id, event.red,
                  event.seller_name, event.invoice_number, int(event.total_amount * 100))


def to_ack(event: TaxAcknowledged) -> Ack:
    """The facts of a tax.acknowledged event."""
    return Ack(
        invoice_id=event.invoice_id,
        event_id=event.event_id,
        status=event.status,
        acknowledged_at=event.acknowledged_at.timestamp(),
        reason_code=event.reason_code,
        reason=event.reason,
    )


def to_submission(event: InvoiceSubmitted) -> Submission:
    """The facts of an invoice.submitted event (``client`` is ``name/version``)."""
    return Submission(
        invoice_id=event.invoice_id,
        event_id=event.event_id,
        submitted_at=event.submitted_at.timestamp(),
        channel=event.channel,
        client=f"{event.client_name}/{event.client_version}",
        attempt=event.attempt,
        transport_error=event.transport_error,
    )


def to_action(event: InvoiceAction) -> Action:
    """The facts of an invoice.sync.action event."""
    return Action(invoice_id=event.invoice_id, action_id=event.action_id, kind=event.action,
                  at=event.requested_at.timestamp(), actor=event.actor, reason=event.reason,
                  note=event.note)


def _instant(epoch: float | None) -> datetime | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC)


def cause_to_wire(cause: Cause) -> dict[str, Any]:
    """The alert's ``probable_cause``: evidence times (keys ending ``_at``) as ISO 8601 UTC."""
    evidence: dict[str, Any] = {}
    for key, value in cause.evidence:
        is_time = key.endswith("_at") and isinstance(value, float | int)
        evidence[key] = datetime.fromtimestamp(float(value), UTC).isoformat() if is_time else value
    return {"code": cause.code, "summary": cause.summary, "evidence": evidence}


def alert_to_contract(alert: Alert) -> SyncAlert:
    """The invoice.sync.alert event for ``alert``."""
    fields = asdict(alert)
    for name in ("issued_at", "deadline_at", "detected_at"):
        fields[name] = _instant(fields[name])
    fields["resolved_alert_ids"] = list(alert.resolved_alert_ids)
    for name in ("region_code", "source_system", "seller_tax_id"):
        fields[name] = fields[name] or ""
    fields["probable_cause"] = (None if alert.probable_cause is None
                                else cause_to_wire(alert.probable_cause))
    return SyncAlert.model_validate(fields)


def alert_to_json(alert: Alert) -> bytes:
    """UTF-8 JSON of the alert event, omitting fields that do not apply to its kind."""
    document = alert_to_contract(alert).model_dump(mode="json", exclude_none=True)
    return orjson.dumps(document)


def alert_key(alert: Alert) -> bytes:
    """Kafka key: the invoice id, or ``scope:value`` for scope alerts (``platform:`` for all)."""
    if alert.invoice_id:
        return alert.invoice_id.encode()
    values = {"region_code": alert.region_code, "source_system": alert.source_system,
              "client_version": alert.client_version}
    return f"{alert.scope}:{values.get(alert.scope or '') or ''}".encode()


#: CloudEvents ``type`` of each alert kind: ``cn.invoice-sync.alert.<kind>`` (docs/alerts.md).
ALERT_TYPE_PREFIX = "cn.invoice-sync.alert."
ALERT_SCHEMA_VERSION = SyncAlert.model_fields["schema_version"].default


def alert_headers(alert: Alert, source: str) -> list[tuple[str, bytes]]:
    """Kafka headers of an alert record: CloudEvents 1.0 binary mode (``ce_*``; the value is
    the event data) and the schema version, so consumers route and deduplicate on headers
    without parsing the value. ``source`` is the CloudEvents source (a URI reference naming
    the producing application, e.g. ``urn:invoice-sync:<app id>``)."""
    subject = alert.invoice_id or alert_key(alert).decode()
    detected = datetime.fromtimestamp(alert.detected_at, UTC).isoformat()
    return [
        ("content-type", b"application/json"),
        ("ce_specversion", b"1.0"),
        ("ce_id", alert.alert_id.encode()),
        ("ce_type", (ALERT_TYPE_PREFIX + alert.kind).encode()),
        ("ce_source", source.encode()),
        ("ce_time", detected.encode()),
        ("ce_subject", subject.encode()),
        ("ce_dataschema", schema_id("invoice.sync.alert").encode()),
        ("schema_version", str(ALERT_SCHEMA_VERSION).encode()),
    ]


def alert_source(app_id: str) -> str:
    """The CloudEvents source of a worker group's alerts."""
    return f"urn:invoice-sync:{app_id}"
