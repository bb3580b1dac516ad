"""Input facts for the correlation core: what the input topics tell us, already validated."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .frozen import quick_init

AckStatus = Literal["accepted", "rejected", "duplicate"]
Channel = Literal["leqi", "web", "third_party"]
ActionKind = Literal["close", "reopen"]
CloseReason = Literal["voided", "duplicate", "test", "handled-offline"]
CLOSE_REASONS: tuple[CloseReason, ...] = ("voided", "duplicate", "test", "handled-offline")

#: Statuses that mean the tax platform holds the invoice ("duplicate" = it already had it).
SYNCED_STATUSES: frozenset[str] = frozenset({"accepted", "duplicate"})


@quick_init
@dataclass(frozen=True, slots=True)
class Issued:
    """An invoice was issued by a seller's billing system (invoice.issued)."""

    invoice_id: str
    event_id: str
    issued_at: float
    region_code: str
    source_system: str
    seller_tax_id: str
    red: bool = False
    #: For finance's views (the pending list, CSV): not used by any rule.
    seller_name: str | None = None
    invoice_number: str | None = None
    total_amount_cents: int | None = None


@quick_init
@dataclass(frozen=True, slots=True)
class Ack:
    """The tax platform's answer for one invoice (invoice.acknowledged)."""

    invoice_id: str
    event_id: str
    status: AckStatus
    acknowledged_at: float
    reason_code: str | None = None
    reason: str | None = None


@quick_init
@dataclass(frozen=True, slots=True)
class Submission:
    """One upload attempt of one invoice (invoice.submitted); ``transport_error`` set: the
    attempt never reached the platform. ``client`` is ``name/version`` of the uploader."""

    invoice_id: str
    event_id: str
    submitted_at: float
    channel: Channel
    client: str
    attempt: int
    transport_error: str | None = None


@quick_init
@dataclass(frozen=True, slots=True)
class Action:
    """An operator's close or reopen of one invoice (invoice.sync.actions), and its audit entry.

    ``actor`` is the authenticated caller's token name; ``at`` when the API accepted it.
    ``reason`` is one of CLOSE_REASONS for a close, None for a reopen.
    """

    invoice_id: str
    action_id: str
    kind: ActionKind
    at: float
    actor: str
    reason: str | None = None
    note: str | None = None
