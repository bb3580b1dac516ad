"""Records that must end on the dead-letter topic: bad bytes and contract violations.

Each defect takes a valid payload of a fresh invoice and breaks it the way real producers do;
:func:`draw_malformed` returns the record and the ``error_reason`` intake must give.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from pipeline.intake import MAX_VALUE_BYTES, RejectReason


@dataclass(frozen=True, slots=True)
class Malformed:
    """One bad record: ``role`` is ``issued`` or ``acknowledged``."""

    role: str
    key: bytes
    value: bytes
    reason: RejectReason
    defect: str
    invoice_id: str = ""


def _truncated(event: dict[str, Any]) -> tuple[bytes, str]:
    value = orjson.dumps(event)
    return value[: len(value) // 2], "truncated JSON"


def _garbage(event: dict[str, Any]) -> tuple[bytes, str]:
    return b"\xff\xfe\x00GBK?\xb7\xa2\xc6\xb1" + event["invoice_id"].encode(), "not UTF-8 JSON"


def _not_object(event: dict[str, Any]) -> tuple[bytes, str]:
    return orjson.dumps([event]), "JSON array instead of an object"


def _naive_time(event: dict[str, Any]) -> tuple[bytes, str]:
    field = "issued_at" if "issued_at" in event else "acknowledged_at"
    return orjson.dumps({**event, field: event[field][:19]}), f"{field} without UTC offset"


def _total_mismatch(event: dict[str, Any]) -> tuple[bytes, str]:
    if "total_amount" not in event:
        return _naive_time(event)
    total = event["total_amount"]
    cents = int(total.replace("-", "").replace(".", "")) + 1
    broken = f"{'-' if total.startswith('-') else ''}{cents // 100}.{cents % 100:02d}"
    return orjson.dumps({**event, "total_amount": broken}), "total_amount != amount + tax"


def _bad_taxpayer(event: dict[str, Any]) -> tuple[bytes, str]:
    if "seller_tax_id" not in event:
        return orjson.dumps({**event, "status": "rejected"}), "rejection without reason"
    return orjson.dumps({**event, "seller_tax_id": event["seller_tax_id"][:-1].lower()}), \
        "seller_tax_id with lower case and 17 characters"


def _missing_field(event: dict[str, Any]) -> tuple[bytes, str]:
    return orjson.dumps({k: v for k, v in event.items() if k != "invoice_id"}), \
        "invoice_id missing"


def _float_money(event: dict[str, Any]) -> tuple[bytes, str]:
    if "amount" not in event:
        return _missing_field(event)
    return orjson.dumps({**event, "amount": float(event["amount"])}), "amount as a JSON number"


def _oversized(event: dict[str, Any]) -> tuple[bytes, str]:
    padding = "x" * (MAX_VALUE_BYTES + 1024)
    return orjson.dumps({**event, "remarks": padding}), "over 1 MiB"


_Defect = Callable[[dict[str, Any]], tuple[bytes, str]]
#: (defect, reason, weight); oversized records are rare (and cost 1 MiB each).
DEFECTS: tuple[tuple[_Defect, RejectReason, int], ...] = (
    (_truncated, "not_json", 4),
    (_garbage, "not_json", 2),
    (_not_object, "not_json", 1),
    (_naive_time, "contract", 3),
    (_total_mismatch, "contract", 3),
    (_bad_taxpayer, "contract", 2),
    (_missing_field, "contract", 1),
    (_float_money, "contract", 2),
    (_oversized, "too_large", 1),
)


def draw_malformed(rng: random.Random, role: str, event: dict[str, Any]) -> Malformed:
    """Break ``event`` (a valid payload of ``role``, keyed by its fresh invoice_id).

    About one in eight bad records instead keeps a valid value under a wrong key
    (``key_mismatch``: e.g. an order number used as key).
    """
    invoice_id = event["invoice_id"]
    if rng.random() < 0.125:
        return Malformed(role, f"SO-{invoice_id}".encode(), orjson.dumps(event), "key_mismatch",
                         "key is an order number, not the invoice_id", invoice_id)
    defect, reason, _ = rng.choices(DEFECTS, weights=[w for _, _, w in DEFECTS])[0]
    value, what = defect(event)
    return Malformed(role, invoice_id.encode(), value, reason, what, invoice_id)
