"""Build the per-invoice alerts (unsynced, rejected, resolved, orphan_ack) from a record."""

from __future__ import annotations

from .alerts import Alert, AlertKind, Severity, invoice_alert_id
from .causes import Cause
from .durations import format_duration
from .state import Flag, InvoiceState

#: Alerts a later acceptance resolves, in the order they are listed in resolved_alert_ids.
RESOLVABLE: tuple[tuple[int, AlertKind, Severity], ...] = (
    (Flag.WARNED, "unsynced", "warning"),
    (Flag.ESCALATED, "unsynced", "critical"),
    (Flag.REJECTION_ALERTED, "rejected", "warning"),
)


def _alert(
    state: InvoiceState,
    kind: AlertKind,
    severity: Severity,
    *,
    now: float,
    message: str,
    deadline_at: float | None = None,
    latency_seconds: float | None = None,
    resolved_alert_ids: tuple[str, ...] = (),
    with_reason: bool = False,
    cause: Cause | None = None,
) -> Alert:
    age = None if state.issued_at is None else max(0.0, now - state.issued_at)
    return Alert(
        alert_id=invoice_alert_id(state.invoice_id, kind, severity),
        kind=kind,
        severity=severity,
        invoice_id=state.invoice_id,
        region_code=state.region_code,
        source_system=state.source_system,
        seller_tax_id=state.seller_tax_id,
        issued_at=state.issued_at,
        deadline_at=deadline_at,
        detected_at=now,
        age_seconds=age,
        reason_code=state.reason_code if with_reason else None,
        reason=state.reason if with_reason else None,
        latency_seconds=latency_seconds,
        resolved_alert_ids=resolved_alert_ids,
        scope=None,
        unsynced_count=None,
        due_count=None,
        window_seconds=None,
        message=message,
        probable_cause=cause,
    )


def _subject(state: InvoiceState, now: float) -> str:
    red = "red-letter " if state.flags & Flag.RED else ""
    age = format_duration(now - (state.issued_at or now))
    return (
        f"{red}invoice {state.invoice_id} issued {age} ago in region {state.region_code} "
        f"({state.source_system})"
    )


def _reason_text(state: InvoiceState) -> str:
    code = state.reason_code or "no code"
    return f"{code}: {state.reason}" if state.reason else code


def unsynced(state: InvoiceState, severity: Severity, deadline_at: float, now: float,
             cause: Cause | None = None) -> Alert:
    """No acceptance by the warning (or critical) deadline; ``cause`` says probably why."""
    threshold = format_duration(deadline_at - (state.issued_at or deadline_at))
    rejected = state.ack_status == "rejected"
    what = "no acceptance (last answer: rejected)" if rejected else "no acknowledgement"
    deferred = " (deferred past maintenance)" if state.flags & Flag.DEFERRED else ""
    message = f"{_subject(state, now)}: {what} after {threshold}{deferred} {severity} threshold"
    if cause is not None:
        message += f"; probable cause {cause.code}: {cause.summary}"
    return _alert(
        state,
        "unsynced",
        severity,
        now=now,
        message=message,
        deadline_at=deadline_at,
        with_reason=rejected,
        cause=cause,
    )


def rejected(state: InvoiceState, now: float) -> Alert:
    """The tax platform rejected the invoice."""
    message = f"{_subject(state, now)}: rejected by the tax platform ({_reason_text(state)})"
    return _alert(state, "rejected", "warning", now=now, message=message, with_reason=True)


def resolved(state: InvoiceState, latency: float, now: float) -> Alert | None:
    """Acceptance after alerts were emitted; None if there was nothing to resolve."""
    ids = tuple(
        invoice_alert_id(state.invoice_id, kind, severity)
        for flag, kind, severity in RESOLVABLE
        if state.flags & flag
    )
    if not ids:
        return None
    message = (
        f"invoice {state.invoice_id} in region {state.region_code} ({state.source_system}): "
        f"{state.ack_status} after {format_duration(latency)}, resolves {len(ids)} alert(s)"
    )
    return _alert(
        state,
        "resolved",
        "info",
        now=now,
        message=message,
        latency_seconds=latency,
        resolved_alert_ids=ids,
    )


def orphan(state: InvoiceState, now: float) -> Alert:
    """An acknowledgement waited for its invoice past the orphan window."""
    held = format_duration(now - (state.held_since or now))
    message = (
        f"acknowledgement ({state.ack_status}) for invoice {state.invoice_id} held {held}: "
        "the invoice was never seen on the issued topic"
    )
    return _alert(state, "orphan_ack", "info", now=now, message=message, with_reason=True)
