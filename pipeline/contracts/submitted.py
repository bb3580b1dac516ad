"""``invoice.submitted``: the uploader's attempt to send one invoice to the tax platform.

Between ``invoice.issued`` and ``tax.acknowledged`` lies the upload. Knowing that it happened
(or failed, or never happened) is what tells "never submitted" from "the platform did not
answer" and "the network cut the upload": the causes an alert names (docs/causes.md).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StrictInt, model_validator

from pipeline.contracts.base import WireEvent
from pipeline.contracts.identifiers import EventId, InvoiceId
from pipeline.contracts.timestamps import OffsetDateTime

SubmissionChannel = Literal["leqi", "web", "third_party"]
"""How the invoice was uploaded: ``leqi`` the enterprise direct connection (乐企直连), ``web`` the
digital e-invoice web service (数电 web / 电子税务局), ``third_party`` a service provider's
platform."""

ClientText = Annotated[str, Field(min_length=1, max_length=64)]
TRANSPORT_ERROR_MAX = 500


class InvoiceSubmitted(WireEvent):
    """One upload attempt of one invoice.

    ``attempt`` counts from 1 per invoice. ``transport_error`` is set when the attempt did not
    reach the platform (timeout, connection reset, TLS failure, HTTP 5xx from a gateway): the
    platform has then not seen the invoice. An attempt without it reached the platform, whose
    answer comes later on ``tax.acknowledged``. ``transport_error`` must not be blank.
    """

    schema_version: StrictInt = Field(default=1, ge=1)
    event_type: Literal["invoice.submitted"]
    event_id: EventId
    invoice_id: InvoiceId
    submitted_at: OffsetDateTime
    channel: SubmissionChannel
    client_name: ClientText
    client_version: ClientText
    attempt: StrictInt = Field(ge=1, le=10_000)
    transport_error: Annotated[str, Field(max_length=TRANSPORT_ERROR_MAX)] | None = None

    @property
    def failed(self) -> bool:
        """The attempt did not reach the platform."""
        return self.transport_error is not None

    @model_validator(mode="after")
    def _error_not_blank(self) -> InvoiceSubmitted:
        if self.transport_error is not None and not self.transport_error.strip():
            raise ValueError("transport_error: must not be blank (omit it or null when none)")
        return self
