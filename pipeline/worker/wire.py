"""Conversions between the wire contracts (pydantic, ISO timestamps) and the core's plain facts."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

import orjson

from pipeline.contracts import InvoiceIssued, InvoiceSubmitted, SyncAlert, TaxAcknowledged
from pipeline.correlation.alerts import Alert
from pipeline.correlation.causes import Cause
from pipeline.correlation.facts import Ack, Issued, Submission


def to_issued(event: InvoiceIssued) -> Issued:
    """The facts of an invoice.issued event that the correlation needs."""
    return Issued(
        invoice_id=event.invoice_id,
        event_id=event.event_id,
        issued_at=event.issued_at.timestamp(),
        region_code=event.region_code,
        source_system=event.source_system,
        seller_tax_id=event.seller_tax_id,
        red=event.red,
    )


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
