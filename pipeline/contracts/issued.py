"""``invoice.issued``: a company's billing system issued an invoice (blue or red)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StrictBool, StrictInt, model_validator

from pipeline.contracts.base import WireEvent
from pipeline.contracts.identifiers import (
    EventId,
    InvoiceId,
    OptionalTaxpayerId,
    PartyName,
    RegionCode,
    SourceSystem,
    TaxpayerId,
)
from pipeline.contracts.invoice_types import (
    FULLY_DIGITAL,
    LEGACY,
    TypeCodeSpace,
    known_types,
    to_national,
)
from pipeline.contracts.money import Money
from pipeline.contracts.timestamps import OffsetDateTime
from pipeline.taxpayer import check_taxpayer_id

InvoiceNumber = Annotated[str, Field(pattern=r"^[0-9]{8}$|^[0-9]{20}$")]
InvoiceCode = Annotated[str, Field(pattern=r"^[0-9]{10}$|^[0-9]{12}$")]


class InvoiceIssued(WireEvent):
    """An issued invoice; red-letter invoices (``red``) reverse a blue one and need their own ack.

    Rules beyond the field types: ``invoice_type`` must exist in ``type_code_space``; fully
    digital and paper 数电 types carry a 20-digit ``invoice_number``, fully digital ones no
    ``invoice_code``; legacy types (01/04/08/10) carry an 8-digit number plus a 10- or 12-digit
    ``invoice_code``; ``amount + tax_amount == total_amount`` exactly; red invoices have all
    amounts <= 0, blue ones >= 0; only red invoices may name ``original_invoice_number``.
    ``buyer_tax_id`` is optional (individual buyers have none; ``""`` reads as absent).
    """

    schema_version: StrictInt = Field(default=1, ge=1)
    event_type: Literal["invoice.issued"]
    event_id: EventId
    invoice_id: InvoiceId
    invoice_number: InvoiceNumber
    invoice_code: InvoiceCode | None = None
    invoice_type: Annotated[str, Field(pattern=r"^[0-9]{2}$")]
    type_code_space: TypeCodeSpace = "national"
    red: StrictBool
    original_invoice_number: InvoiceNumber | None = None
    seller_tax_id: TaxpayerId
    seller_name: PartyName
    buyer_tax_id: OptionalTaxpayerId = None
    buyer_name: PartyName
    region_code: RegionCode
    source_system: SourceSystem
    issued_at: OffsetDateTime
    amount: Money
    tax_amount: Money
    total_amount: Money
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")] = "CNY"

    @property
    def national_invoice_type(self) -> str:
        """``invoice_type`` in the national code space (乐企 01 -> 81, 02 -> 82)."""
        return to_national(self.invoice_type, self.type_code_space)

    @property
    def is_fully_digital(self) -> bool:
        """True for 数电 invoices (81/82, or 乐企 01/02)."""
        return self.national_invoice_type in FULLY_DIGITAL

    def warnings(self) -> list[str]:
        """``<field>_check_digit`` for each taxpayer id whose check digit failed."""
        return [
            f"{field}_check_digit"
            for field, value in (("seller_tax_id", self.seller_tax_id),
                                 ("buyer_tax_id", self.buyer_tax_id))
            if value is not None and check_taxpayer_id(value).check_digit_failed
        ]

    @model_validator(mode="after")
    def _consistent(self) -> InvoiceIssued:
        problems = _numbering_problems(self) + _amount_problems(self)
        if problems:
            raise ValueError("; ".join(problems))
        return self


def _numbering_problems(event: InvoiceIssued) -> list[str]:
    space, code = event.type_code_space, event.invoice_type
    if code not in known_types(space):
        return [f"invoice_type: {code!r} is not a type code of the {space} code space"]
    national = to_national(code, space)
    problems = []
    if national in LEGACY:
        if len(event.invoice_number) != 8:
            problems.append(f"invoice_number: must be 8 digits for legacy type {national}")
        if event.invoice_code is None:
            problems.append(f"invoice_code: required for legacy type {national}")
    else:
        if len(event.invoice_number) != 20:
            problems.append(f"invoice_number: must be 20 digits for type {national}")
        if national in FULLY_DIGITAL and event.invoice_code is not None:
            problems.append(f"invoice_code: must be absent for fully digital type {national}")
    if event.original_invoice_number is not None and not event.red:
        problems.append("original_invoice_number: only red invoices reverse another invoice")
    return problems


def _amount_problems(event: InvoiceIssued) -> list[str]:
    problems = []
    amount, tax, total = event.amount, event.tax_amount, event.total_amount
    if amount + tax != total:
        problems.append("total_amount: must equal amount + tax_amount exactly")
    # Spelled out rather than any() over a generator: every valid event runs this (intake).
    if event.red:
        if amount > 0 or tax > 0 or total > 0:
            problems.append("amount, tax_amount, total_amount: must all be <= 0 on a red invoice")
    elif amount < 0 or tax < 0 or total < 0:
        problems.append("amount, tax_amount, total_amount: must all be >= 0 on a blue invoice")
    return problems
