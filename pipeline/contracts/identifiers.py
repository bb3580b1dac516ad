"""Constrained strings shared by the wire events."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field

from pipeline.taxpayer import check_taxpayer_id

INVOICE_ID_MAX = 64

EventId = Annotated[str, Field(min_length=1, max_length=128)]
"""A producer-assigned unique id of one event (for de-duplication and tracing)."""

InvoiceId = Annotated[str, Field(min_length=1, max_length=INVOICE_ID_MAX)]
"""The join key of an invoice and its acknowledgements, and the Kafka record key (UTF-8)."""

SourceSystem = Annotated[str, Field(min_length=1, max_length=128)]
"""The billing/ERP system (or tax channel) that produced the event."""

RegionCode = Annotated[str, Field(pattern=r"^[0-9]{6}$")]
"""GB/T 2260 six-digit region code, e.g. 110000 for Beijing."""

PartyName = Annotated[str, Field(min_length=1, max_length=300)]
"""A seller or buyer name as printed on the invoice."""

ReasonCode = Annotated[str, Field(max_length=64)]
ReasonText = Annotated[str, Field(max_length=4000)]


def _require_usable_taxpayer_id(value: str) -> str:
    check = check_taxpayer_id(value)
    if not check.usable:
        raise ValueError(check.problem or "not a taxpayer id")
    return value


def _blank_is_none(value: Any) -> Any:
    # Billing systems send "" for "no buyer tax id" (individual buyers).
    return None if value == "" else value


TaxpayerId = Annotated[
    str,
    AfterValidator(_require_usable_taxpayer_id),
    Field(
        # Only documented in the schema: the validator gives a clearer message than a regex.
        json_schema_extra={"pattern": r"^[0-9A-Z]{15}$|^[0-9A-Z]{18}$|^[0-9A-Z]{20}$"},
        description="USCC (18), personal ID number (18) or legacy id (15 or 20); a failed "
        "USCC check digit is a warning, not an error.",
    ),
]
"""A seller/buyer taxpayer id: format errors are refused, check-digit failures only warned."""

OptionalTaxpayerId = Annotated[TaxpayerId | None, BeforeValidator(_blank_is_none)]
"""A taxpayer id that may be absent; ``""`` is read as absent."""
