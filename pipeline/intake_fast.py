"""The fast path of intake: orjson and precompiled checks for the common valid issued event.

:func:`issued` returns the event and its warnings exactly as the pydantic contract would give
them, or ``None`` for anything it does not recognise as plainly valid: then intake asks the
contract itself, which gives the verdict and names the error. So the fast path may only ever be
narrower than the contract, never wider: it accepts only canonical forms (JSON types as the
contract's strict fields want them, ``YYYY-MM-DDTHH:MM:SS[.ffffff](Z|+HH:MM)`` timestamps in
the contract's range, ids and amounts that match the contract's patterns) and checks the
cross-field rules with the contract's own model validators. tests/unit/test_intake_fast.py
proves the same verdict and the same parsed event on generated and corrupted records.

Acknowledgements have no fast path: their contract has no Python validator on the field level,
so pydantic's own parser is already cheaper (about 3 µs) than any Python path could be (orjson,
the timestamp and building the model alone cost more; a complete one measured 6 µs).
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any, TypeVar

import orjson
from pydantic_core import TzInfo

from pipeline.contracts import InvoiceIssued, WireEvent
from pipeline.contracts.money import MONEY_PATTERN
from pipeline.contracts.timestamps import EARLIEST, LATEST
from pipeline.taxpayer import check_taxpayer_id

M = TypeVar("M", bound=WireEvent)
Verdict = tuple[M, tuple[str, ...]]

#: The contract's fields in declaration order, as the fast path builds them; if the contract
#: changes its fields the fast path switches itself off (and its test fails).
ISSUED_FIELDS = (
    "schema_version", "event_type", "event_id", "invoice_id", "invoice_number", "invoice_code",
    "invoice_type", "type_code_space", "red", "original_invoice_number", "seller_tax_id",
    "seller_name", "buyer_tax_id", "buyer_name", "region_code", "source_system", "issued_at",
    "amount", "tax_amount", "total_amount", "currency",
)  # fmt: skip
ENABLED = tuple(InvoiceIssued.model_fields) == ISSUED_FIELDS
_ISSUED_SET = frozenset(ISSUED_FIELDS)

_MONEY = re.compile(MONEY_PATTERN).fullmatch
_INVOICE_NUMBER = re.compile(r"[0-9]{8}|[0-9]{20}").fullmatch
_INVOICE_CODE = re.compile(r"[0-9]{10}|[0-9]{12}").fullmatch
_TWO_DIGITS = re.compile(r"[0-9]{2}").fullmatch
_REGION = re.compile(r"[0-9]{6}").fullmatch
_CURRENCY = re.compile(r"[A-Z]{3}").fullmatch
# Years 1000-8999 only: far from the ends of datetime's range, where an offset can push the
# UTC instant out of it (comparing with the contract's bounds could then overflow); the contract
# decides those (and every other form) itself.
_TIMESTAMP = re.compile(
    r"[1-8][0-9]{3}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,6})?"
    r"(?:Z|[+-][01][0-9]:[0-5][0-9])"
).fullmatch
_SPACES = frozenset({"national", "leqi"})
_ZONES: dict[str, TzInfo] = {}
_set = object.__setattr__


@lru_cache(maxsize=4096)
def _taxpayer(value: str) -> tuple[bool, bool]:
    """(usable, check digit failed) of a taxpayer id (:class:`TaxpayerIdCheck`). Sellers
    repeat: a company issues most invoices under its own id."""
    check = check_taxpayer_id(value)
    return check.usable, check.check_digit_failed


def _zone(suffix: str) -> TzInfo:
    zone = _ZONES.get(suffix)
    if zone is None:
        seconds = 0 if suffix == "Z" else (int(suffix[1:3]) * 3600 + int(suffix[4:6]) * 60) * (
            -1 if suffix[0] == "-" else 1)
        zone = _ZONES.setdefault(suffix, TzInfo(seconds))
    return zone


def _timestamp(value: Any) -> datetime | None:
    if type(value) is not str or _TIMESTAMP(value) is None:
        return None
    try:
        d = datetime.fromisoformat(value)
    except ValueError:  # e.g. 2024-02-30, 24:00:00
        return None
    # pydantic's own tzinfo class, as the contract gives it (a constructor call, because
    # datetime.replace() costs several times more)
    stamp = datetime(d.year, d.month, d.day, d.hour, d.minute, d.second, d.microsecond,
                     _zone("Z" if value[-1] == "Z" else value[-6:]))
    # Outside the contract's [EARLIEST, LATEST) the contract gives the verdict and the message
    # (the year test first: comparing a year-1 or year-9999 time with an offset can overflow).
    if not 1999 <= d.year <= 2100 or not EARLIEST <= stamp < LATEST:
        return None
    return stamp


def _money(value: Any) -> Decimal | None:
    if type(value) is not str or _MONEY(value) is None:
        return None
    amount = Decimal(value)
    return amount if amount else abs(amount)  # -0.00 folds into 0.00, as in the contract


def _load(value: bytes) -> dict[str, Any] | None:
    try:
        data = orjson.loads(value)
    except orjson.JSONDecodeError:
        return None
    return data if type(data) is dict else None


def _build(model: type[M], fields: dict[str, Any], given: set[str]) -> M:
    # What model_construct() does for these models (no extras kept, no private attributes),
    # without its per-field loop, which costs more than all the checks above.
    event = model.__new__(model)
    _set(event, "__dict__", fields)
    _set(event, "__pydantic_fields_set__", given)
    _set(event, "__pydantic_extra__", None)
    _set(event, "__pydantic_private__", None)
    return event


def issued(value: bytes) -> Verdict[InvoiceIssued] | None:
    """The event and warnings the contract gives for a plainly valid ``invoice.issued`` value,
    else None (ask the contract)."""
    d = _load(value)
    if d is None or not ENABLED:
        return None
    get = d.get
    version = get("schema_version", 1)
    code = get("invoice_code")
    original = get("original_invoice_number")
    space = get("type_code_space", "national")
    currency = get("currency", "CNY")
    seller = get("seller_tax_id")
    buyer = get("buyer_tax_id")
    if buyer == "":
        buyer = None
    # The strings' lengths inline (a call per field was a tenth of this function).
    if not (type(version) is int and version >= 1
            and get("event_type") == "invoice.issued"
            and type(event_id := get("event_id")) is str and 1 <= len(event_id) <= 128
            and type(invoice_id := get("invoice_id")) is str and 1 <= len(invoice_id) <= 64
            and type(number := get("invoice_number")) is str and _INVOICE_NUMBER(number)
            and (code is None or (type(code) is str and _INVOICE_CODE(code)))
            and type(kind := get("invoice_type")) is str and _TWO_DIGITS(kind)
            and type(space) is str and space in _SPACES
            and type(red := get("red")) is bool
            and (original is None or (type(original) is str and _INVOICE_NUMBER(original)))
            and type(seller) is str and (seller_check := _taxpayer(seller))[0]
            and type(seller_name := get("seller_name")) is str and 1 <= len(seller_name) <= 300
            and (buyer is None or (type(buyer) is str and (buyer_check := _taxpayer(buyer))[0]))
            and type(buyer_name := get("buyer_name")) is str and 1 <= len(buyer_name) <= 300
            and type(region := get("region_code")) is str and _REGION(region)
            and type(source := get("source_system")) is str and 1 <= len(source) <= 128
            and type(currency) is str and _CURRENCY(currency)):
        return None
    issued_at = _timestamp(get("issued_at"))
    amount, tax, total = _money(get("amount")), _money(get("tax_amount")), _money(
        get("total_amount"))
    if issued_at is None or amount is None or tax is None or total is None:
        return None
    event = _build(InvoiceIssued, {
        "schema_version": version, "event_type": "invoice.issued", "event_id": event_id,
        "invoice_id": invoice_id, "invoice_number": number, "invoice_code": code,
        "invoice_type": kind, "type_code_space": space, "red": red,
        "original_invoice_number": original, "seller_tax_id": seller,
        "seller_name": seller_name, "buyer_tax_id": buyer, "buyer_name": buyer_name,
        "region_code": region, "source_system": source, "issued_at": issued_at,
        "amount": amount, "tax_amount": tax, "total_amount": total, "currency": currency,
    }, d.keys() & _ISSUED_SET)  # fmt: skip
    try:
        # the contract's own cross-field rules (pydantic's decorator hides the signature)
        event._consistent()  # type: ignore[operator]
    except ValueError:
        return None
    warnings: tuple[str, ...] = ("seller_tax_id_check_digit",) if seller_check[1] else ()
    if buyer is not None and buyer_check[1]:
        warnings += ("buyer_tax_id_check_digit",)
    return event, warnings
