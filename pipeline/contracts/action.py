"""``invoice.sync.action``: an operator closed or reopened an invoice (topic
``invoice.sync.actions``, keyed by invoice id, co-partitioned with the inputs).

The audit record and the command at once: the worker applies it in stream order with the
invoice's other events, so it is durable, ordered and replayed on recovery like them.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from pipeline.contracts.base import WireEvent
from pipeline.contracts.identifiers import EventId, InvoiceId
from pipeline.contracts.timestamps import OffsetDateTime

ActionName = Literal["close", "reopen"]
CloseReasonName = Literal["voided", "duplicate", "test", "handled-offline"]
NOTE_MAX = 500


class InvoiceAction(WireEvent):
    """Who (``actor``: the API token's name) did what (``action``) to which invoice, when
    (``requested_at``) and why (``reason``, required for a close; ``note``, free text)."""

    schema_version: int = Field(default=1, ge=1)
    event_type: Literal["invoice.sync.action"] = "invoice.sync.action"
    action_id: EventId
    invoice_id: InvoiceId
    action: ActionName
    reason: CloseReasonName | None = None
    note: Annotated[str, Field(max_length=NOTE_MAX)] | None = None
    actor: Annotated[str, Field(min_length=1, max_length=64)]
    requested_at: OffsetDateTime

    @model_validator(mode="after")
    def _reason_fits_action(self) -> InvoiceAction:
        if self.action == "close" and self.reason is None:
            raise ValueError("reason: required to close an invoice")
        if self.action == "reopen" and self.reason is not None:
            raise ValueError("reason: a reopen has no close reason (use note)")
        return self
