"""JSON views of one invoice's record, as /invoices/{id} and /pending show it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pipeline.correlation.actions import closing
from pipeline.correlation.alerts import AlertKind, Severity, invoice_alert_id
from pipeline.correlation.facts import Action
from pipeline.correlation.state import Flag, InvoiceState

#: Which flag means which per-invoice alert was emitted (and so can be looked up by id).
_RAISED: tuple[tuple[int, AlertKind, Severity], ...] = (
    (Flag.REJECTION_ALERTED, "rejected", "warning"),
    (Flag.WARNED, "unsynced", "warning"),
    (Flag.ESCALATED, "unsynced", "critical"),
    (Flag.RESOLVED, "resolved", "info"),
)


def iso(seconds: float | None) -> str | None:
    """Epoch seconds as ISO 8601 in UTC (``...+00:00``); None stays None, and so becomes a time
    datetime cannot show (a record stored before the contract bounded times, docs/api.md)."""
    if seconds is None:
        return None
    try:
        return datetime.fromtimestamp(seconds, tz=UTC).isoformat()
    except (ValueError, OverflowError, OSError):
        return None


def amount(cents: int | None) -> str | None:
    """Cents as a decimal string with two places (``-113.00``); exact, never a float."""
    if cents is None:
        return None
    sign = "-" if cents < 0 else ""
    whole, part = divmod(abs(cents), 100)
    return f"{sign}{whole}.{part:02d}"


def finance_fields(state: InvoiceState) -> dict[str, Any]:
    """What finance reads beside the id: number, seller, total amount (None if not recorded:
    records written before version 2 of the state format)."""
    return {
        "invoice_number": state.invoice_number or (state.invoice_id if state.is_issued else None),
        "seller_name": state.seller_name,
        "seller_tax_id": state.seller_tax_id,
        "total_amount": amount(state.total_amount_cents),
    }


def sync_status(state: InvoiceState) -> str:
    """pending | rejected | synced | closed | acknowledged_not_issued (synced wins over
    closed: a later accepted ack still records the sync)."""
    if not state.is_issued:
        return "acknowledged_not_issued"
    if state.is_synced:
        return "synced"
    if state.is_closed:
        return "closed"
    if state.ack_status == "rejected":
        return "rejected"
    return "pending"


def invoice_view(state: InvoiceState, *, now: float) -> dict[str, Any]:
    """Everything the record knows about one invoice."""
    ack = None
    if state.ack_status is not None:
        ack = {
            "status": state.ack_status,
            "acknowledged_at": iso(state.acknowledged_at),
            "reason_code": state.reason_code,
            "reason": state.reason,
        }
    latency = None
    if state.is_synced and state.issued_at is not None and state.acknowledged_at is not None:
        latency = max(0.0, state.acknowledged_at - state.issued_at)
    closed = closing(state)
    age = None
    if state.is_issued and not state.is_synced and state.issued_at is not None:
        age = max(0.0, now - state.issued_at)
    upload = None
    if state.is_submitted:
        upload = {
            "attempts": state.attempts,
            "last_attempt_at": iso(state.submitted_at),
            "channel": state.channel,
            "client": state.client,
            "transport_error": state.transport_error,
        }
    return {
        "invoice_id": state.invoice_id,
        "status": sync_status(state),
        "issued_at": iso(state.issued_at),
        "region_code": state.region_code,
        "source_system": state.source_system,
        **finance_fields(state),
        "red_letter": bool(state.flags & Flag.RED),
        "submission": upload,
        "acknowledgement": ack,
        "latency_seconds": latency,
        "age_seconds": age,
        "deadlines": {"warning": iso(state.warn_at), "critical": iso(state.critical_at)},
        "alerts": [
            {"alert_id": invoice_alert_id(state.invoice_id, kind, severity), "kind": kind,
             "severity": severity}
            for flag, kind, severity in _RAISED if state.flags & flag
        ],
        "held_since": iso(state.held_since),
        "resolved_at": iso(state.resolved_at),
        "closed": None if closed is None else action_view(closed),
        "actions": [action_view(a) for a in state.actions],
        "partition": state.partition,
    }


def action_view(action: Action) -> dict[str, Any]:
    """One entry of an invoice's action history."""
    return {"action_id": action.action_id, "kind": action.kind, "reason": action.reason,
            "note": action.note, "actor": action.actor, "at": iso(action.at)}


def pending_item(state: InvoiceState, *, now: float) -> dict[str, Any]:
    """One row of /pending (``issued_ts`` is the sort key, epoch seconds)."""
    issued_at = state.issued_at or 0.0
    severity = ("critical" if state.flags & Flag.ESCALATED
                else "warning" if state.flags & Flag.WARNED else None)
    return {
        "invoice_id": state.invoice_id,
        "status": sync_status(state),
        "issued_at": iso(issued_at),
        "issued_ts": issued_at,
        "age_seconds": max(0.0, now - issued_at),
        "region_code": state.region_code,
        "source_system": state.source_system,
        **finance_fields(state),
        "alerted": severity,
        "reason_code": state.reason_code,
    }
