"""Input facts for the correlation core: what the two topics tell us, already validated."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

AckStatus = Literal["accepted", "rejected", "duplicate"]

#: Statuses that mean the tax platform holds the invoice ("duplicate" = it already had it).
SYNCED_STATUSES: frozenset[str] = frozenset({"accepted", "duplicate"})


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


@dataclass(frozen=True, slots=True)
class Ack:
    """The tax platform's answer for one invoice (invoice.acknowledged)."""

    invoice_id: str
    event_id: str
    status: AckStatus
    acknowledged_at: float
    reason_code: str | None = None
    reason: str | None = None
