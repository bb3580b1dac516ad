"""The ``maintenance`` alerts: one when a declared window starts, one when it ends.

Deterministic ids (window id + phase), so every worker and every replay that announces the same
transition produces the same alert id; consumers deduplicate on it.
"""

from __future__ import annotations

from .alerts import Alert, maintenance_alert_id
from .causes import window_cause
from .durations import format_duration
from .maintenance import MaintenanceCalendar, MaintenanceWindow


def maintenance_alerts(calendar: MaintenanceCalendar, after: float, until: float,
                       now: float) -> list[Alert]:
    """Alerts for the windows that started or ended in ``(after, until]``."""
    return [maintenance_alert(window, phase, calendar.grace, now)
            for window, phase in calendar.transitions(after, until)]


def maintenance_alert(window: MaintenanceWindow, phase: str, grace: float, now: float) -> Alert:
    """The alert marking ``window``'s start or end (``phase``)."""
    scope = window.scope
    where = {"platform": "every region", "region_code": f"region {window.region_code}",
             "source_system": f"source system {window.source_system}"}[scope]
    length = format_duration(window.end - window.start)
    if phase == "started":
        message = (f"maintenance window {window.window_id} started for {where} ({length}): "
                   f"deadlines inside it wait until {format_duration(grace)} after it ends")
        resolves: tuple[str, ...] = ()
    else:
        message = (f"maintenance window {window.window_id} ended for {where} after {length}: "
                   f"deferred deadlines fire in {format_duration(grace)}")
        resolves = (maintenance_alert_id(window.window_id, "started"),)
    if window.reason:
        message += f" ({window.reason})"
    return Alert(
        alert_id=maintenance_alert_id(window.window_id, phase),
        kind="maintenance",
        severity="info",
        invoice_id="",
        region_code=window.region_code,
        source_system=window.source_system,
        seller_tax_id=None,
        issued_at=None,
        deadline_at=window.end + grace if phase == "started" else None,
        detected_at=now,
        age_seconds=None,
        reason_code=None,
        reason=None,
        latency_seconds=None,
        resolved_alert_ids=resolves,
        scope=scope,
        unsynced_count=None,
        due_count=None,
        window_seconds=window.end - window.start,
        message=message,
        probable_cause=window_cause(window, now),
    )
