"""Alerts the core decides on, mirroring the invoice.sync.alerts contract, and their ids.

Alert ids are deterministic so that replays, rebalances and at-least-once delivery
produce the same id for the same condition: consumers deduplicate on ``alert_id``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Literal

from .causes import Cause

AlertKind = Literal["unsynced", "rejected", "resolved", "orphan_ack", "degraded", "maintenance"]
Severity = Literal["info", "warning", "critical"]
Scope = Literal["region_code", "source_system", "platform", "client_version"]


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert for the alert topic. Fields not meaningful for a kind are None.

    Per-invoice kinds carry invoice, region, source and seller; ``degraded`` (and its
    ``resolved``) carry ``invoice_id=""``, ``scope`` and the affected value in
    ``region_code``, ``source_system`` or ``client_version`` (none for ``platform``), plus the
    window counts. ``maintenance`` marks a declared window's start and end. ``probable_cause``
    is set on ``unsynced``, ``degraded`` and ``maintenance`` alerts.
    """

    alert_id: str
    kind: AlertKind
    severity: Severity
    invoice_id: str
    region_code: str | None
    source_system: str | None
    seller_tax_id: str | None
    issued_at: float | None
    deadline_at: float | None
    detected_at: float
    age_seconds: float | None
    reason_code: str | None
    reason: str | None
    latency_seconds: float | None
    resolved_alert_ids: tuple[str, ...]
    scope: Scope | None
    unsynced_count: int | None
    due_count: int | None
    window_seconds: float | None
    message: str
    probable_cause: Cause | None = None
    client_version: str | None = None  # the value of a client_version scope


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def invoice_alert_id(invoice_id: str, kind: AlertKind, severity: Severity) -> str:
    """Id of a per-invoice condition: one per (invoice, kind, severity), whatever the order."""
    return _digest(f"{invoice_id}|{kind}|{severity}")


def degraded_alert_id(scope: Scope, value: str, episode_start: float) -> str:
    """Id of one degraded episode of a region or source system.

    ``episode_start`` is bucket-aligned by the detector, so workers and replays that
    see the same episode agree on the id.
    """
    return _digest(f"degraded|{scope}|{value}|{int(episode_start)}")


def maintenance_alert_id(window_id: str, phase: str) -> str:
    """Id of the alert marking a declared window's start or end (``phase``)."""
    return _digest(f"maintenance|{window_id}|{phase}")


def recovery_alert_id(degraded_id: str) -> str:
    """Id of the ``resolved`` alert that ends a degraded episode."""
    return _digest(f"{degraded_id}|resolved")
