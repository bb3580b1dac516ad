"""``tax.acknowledged``: the tax platform's verdict on one invoice."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, StrictInt, model_validator

from pipeline.contracts.base import WireEvent
from pipeline.contracts.identifiers import (
    EventId,
    InvoiceId,
    ReasonCode,
    ReasonText,
    SourceSystem,
)
from pipeline.contracts.timestamps import OffsetDateTime

AckStatus = Literal["accepted", "rejected", "duplicate"]


class TaxAcknowledged(WireEvent):
    """The tax platform accepted, rejected, or recognised as a duplicate one invoice.

    ``duplicate`` counts as accepted. ``reason_code`` and ``reason`` are required (non-blank)
    when ``status`` is ``rejected`` and optional otherwise.
    """

    schema_version: StrictInt = Field(default=1, ge=1)
    event_type: Literal["tax.acknowledged"]
    event_id: EventId
    invoice_id: InvoiceId
    status: AckStatus
    reason_code: ReasonCode | None = None
    reason: ReasonText | None = None
    acknowledged_at: OffsetDateTime
    authority_ref: str | None = Field(default=None, max_length=128)
    source_system: SourceSystem

    @property
    def counts_as_accepted(self) -> bool:
        """True for ``accepted`` and ``duplicate``."""
        return self.status != "rejected"

    @model_validator(mode="after")
    def _rejection_explained(self) -> TaxAcknowledged:
        if self.status == "rejected":
            missing = [name for name in ("reason_code", "reason")
                       if not (getattr(self, name) or "").strip()]
            if missing:
                raise ValueError(f"{', '.join(missing)}: required when status is rejected")
        return self
