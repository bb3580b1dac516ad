"""Draw realistic ``invoice.issued`` and ``tax.acknowledged`` payloads (JSON-ready dicts)."""

from __future__ import annotations

import math
import random
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from pipeline.contracts.money import CENT, format_money

from .parties import Region, company_name, draw_uscc, invoice_number, person_name

BEIJING_TIME = timezone(timedelta(hours=8))
"""Chinese billing systems stamp local time; events carry it with its +08:00 offset."""

#: (type_code_space, invoice_type, weight): mostly 数电专票/普票, some via 乐企, some paper 数电.
INVOICE_TYPES: tuple[tuple[str, str, int], ...] = (
    ("national", "81", 45), ("national", "82", 35), ("leqi", "01", 8), ("leqi", "02", 7),
    ("national", "85", 3), ("national", "86", 2),
)
TAX_RATES = (Decimal("0.13"), Decimal("0.09"), Decimal("0.06"), Decimal("0.03"), Decimal("0.01"),
             Decimal("0"))
_TAX_RATE_WEIGHTS = (40, 15, 30, 8, 5, 2)
RED_SHARE = 0.03
REJECTIONS: tuple[tuple[str, str], ...] = (
    ("E1001", "购买方纳税人识别号校验不通过"),
    ("E2041", "商品编码与税率不匹配"),
    ("E3002", "发票金额与明细合计不一致"),
    ("E4010", "开票人信息不完整"),
    ("E5003", "超出授信额度"),
)
"""Reason codes and texts of the tax platform's rejections (incomplete or wrong fields)."""


def wire_time(at: float) -> str:
    """An epoch time as ISO 8601 Beijing time with its offset, millisecond precision."""
    return datetime.fromtimestamp(at, BEIJING_TIME).isoformat(timespec="milliseconds")


def event_id(rng: random.Random) -> str:
    """A UUID4 drawn from ``rng`` (reproducible, unlike ``uuid.uuid4``)."""
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def draw_amounts(rng: random.Random, *, red: bool) -> tuple[str, str, str]:
    """(amount, tax_amount, total_amount) wire strings with amount + tax == total exactly."""
    # Log-normal around 1,800 CNY: most invoices are small, a few run to millions.
    amount = Decimal(str(min(5e8, math.exp(rng.gauss(math.log(1800), 1.4))))).quantize(
        CENT, ROUND_HALF_UP)
    rate = rng.choices(TAX_RATES, weights=_TAX_RATE_WEIGHTS)[0]
    tax = (amount * rate).quantize(CENT, ROUND_HALF_UP)
    total = amount + tax
    sign = -1 if red else 1
    return format_money(sign * amount), format_money(sign * tax), format_money(sign * total)


@dataclass(slots=True)
class InvoiceFactory:
    """Issues invoices with unique numbers; ``serial_base`` separates runs (seed-derived).

    Remembers recent blue invoices so a red-letter invoice can reverse one of them.
    """

    rng: random.Random
    serial_base: int
    year: int
    _next: int = 0
    _recent_blue: deque[tuple[str, str, str]] = field(default_factory=lambda: deque(maxlen=64))

    def next_number(self, region: Region) -> str:
        """A fresh 20-digit invoice number in ``region`` (also used for malformed records)."""
        self._next += 1
        return invoice_number(self.year, region, 1, self.serial_base + self._next)

    def issued(self, region: Region, source_system: str, issued_at: float) -> dict[str, Any]:
        """A valid ``invoice.issued`` payload; about 3% are red-letter reversals."""
        rng = self.rng
        number = self.next_number(region)
        red = bool(self._recent_blue) and rng.random() < RED_SHARE
        if red:
            original, space, invoice_type = rng.choice(tuple(self._recent_blue))
        else:
            space, invoice_type, _ = rng.choices(
                INVOICE_TYPES, weights=[w for _, _, w in INVOICE_TYPES])[0]
        general = invoice_type in ("82", "02", "86")
        individual_buyer = general and rng.random() < 0.3
        amount, tax, total = draw_amounts(rng, red=red)
        event: dict[str, Any] = {
            "schema_version": 1,
            "event_type": "invoice.issued",
            "event_id": event_id(rng),
            "invoice_id": number,
            "invoice_number": number,
            "invoice_type": invoice_type,
            "type_code_space": space,
            "red": red,
            "seller_tax_id": draw_uscc(rng, region),
            "seller_name": company_name(rng, region),
            "buyer_tax_id": "" if individual_buyer else draw_uscc(rng, region),
            "buyer_name": person_name(rng) if individual_buyer else company_name(rng, region),
            "region_code": region.code,
            "source_system": source_system,
            "issued_at": wire_time(issued_at),
            "amount": amount,
            "tax_amount": tax,
            "total_amount": total,
            "currency": "CNY",
        }
        if red:
            event["original_invoice_number"] = original
        else:
            self._recent_blue.append((number, space, invoice_type))
        return event


def acknowledgement(
    rng: random.Random,
    invoice_id: str,
    *,
    status: str,
    acknowledged_at: float,
    channel: str,
    reason: tuple[str, str] | None = None,
) -> dict[str, Any]:
    """A valid ``tax.acknowledged`` payload; ``reason`` (code, text) for rejections."""
    event: dict[str, Any] = {
        "schema_version": 1,
        "event_type": "tax.acknowledged",
        "event_id": event_id(rng),
        "invoice_id": invoice_id,
        "status": status,
        "acknowledged_at": wire_time(acknowledged_at),
        "authority_ref": f"sllsh-{rng.getrandbits(40):012x}",
        "source_system": channel,
    }
    if reason is not None:
        event["reason_code"], event["reason"] = reason
    return event


CLIENTS = (("aisino-leqi", "3.2.1", "leqi"), ("baiwang-cloud", "5.4.0", "third_party"),
           ("servyou-etax", "2.8.3", "web"))
"""Current uploaders (name, version, channel)."""


def submission(
    rng: random.Random,
    invoice_id: str,
    *,
    submitted_at: float,
    client: str,
    attempt: int,
    transport_error: str | None = None,
) -> dict[str, Any]:
    """A valid ``invoice.submitted`` payload; ``client`` is ``name/version``."""
    name, version = client.split("/", 1)
    channel = next((c for n, _, c in CLIENTS if n == name), "third_party")
    event: dict[str, Any] = {
        "schema_version": 1,
        "event_type": "invoice.submitted",
        "event_id": event_id(rng),
        "invoice_id": invoice_id,
        "submitted_at": wire_time(submitted_at),
        "channel": channel,
        "client_name": name,
        "client_version": version,
        "attempt": attempt,
    }
    if transport_error is not None:
        event["transport_error"] = transport_error
    return event
