"""Valid sample events as JSON-ready dicts, for tests and the demo.

Each function returns a dict that validates against its contract; keyword overrides replace
fields (pass ``None`` to send null, and delete keys yourself to test absence). The defaults
follow the overrides where a rule ties fields together: a legacy ``invoice_type`` gets an
8-digit number and an invoice code, ``red=True`` negates the default amounts, and a rejected
acknowledgement gets a reason.
"""

from __future__ import annotations

import uuid
from typing import Any

from pipeline.contracts.invoice_types import LEGACY
from pipeline.taxpayer import uscc_check_char

SAMPLE_ISSUED_AT = "2024-05-01T10:00:00+08:00"
SAMPLE_ACKNOWLEDGED_AT = "2024-05-01T10:02:00+08:00"
BEIJING = "110000"


def sample_uscc(body: str = "91110108MA01AB2C0") -> str:
    """A USCC with a correct check digit for the 17-character ``body``."""
    return body + uscc_check_char(body)


def beijing_invoice_number(seq: int, year: int = 24, channel: int = 1) -> str:
    """A 20-digit 数电 number: year (2), province 11 (Beijing), channel (1), sequence (15)."""
    return f"{year % 100:02d}11{channel % 10}{seq:015d}"


def sample_issued(seq: int = 1, **overrides: Any) -> dict[str, Any]:
    """A valid blue 数电专票 (type 81) issued in Beijing; ``seq`` picks the invoice number."""
    invoice_type = overrides.get("invoice_type", "81")
    legacy = overrides.get("type_code_space", "national") == "national" and invoice_type in LEGACY
    number = f"{seq % 10**8:08d}" if legacy else beijing_invoice_number(seq)
    code = "011002400111"
    # A legacy number is unique only together with its code, so the default id joins both.
    invoice_id = code + number if legacy else number
    sign = "-" if overrides.get("red", False) else ""
    event: dict[str, Any] = {
        "schema_version": 1,
        "event_type": "invoice.issued",
        "event_id": str(uuid.uuid4()),
        "invoice_id": invoice_id,
        "invoice_number": number,
        "invoice_type": invoice_type,
        "type_code_space": "national",
        "red": False,
        "seller_tax_id": sample_uscc(),
        "seller_name": "北京示例科技有限公司",
        "buyer_tax_id": sample_uscc("91110105MA00XY1K2"),
        "buyer_name": "北京样例贸易有限公司",
        "region_code": BEIJING,
        "source_system": "erp-beijing",
        "issued_at": SAMPLE_ISSUED_AT,
        "amount": f"{sign}100.00",
        "tax_amount": f"{sign}13.00",
        "total_amount": f"{sign}113.00",
        "currency": "CNY",
    }
    if legacy:
        event["invoice_code"] = code
    event.update(overrides)
    return event


def sample_ack(invoice_id: str | None = None, **overrides: Any) -> dict[str, Any]:
    """A valid acceptance of ``sample_issued()`` (or of ``invoice_id``)."""
    status = overrides.get("status", "accepted")
    event: dict[str, Any] = {
        "schema_version": 1,
        "event_type": "tax.acknowledged",
        "event_id": str(uuid.uuid4()),
        "invoice_id": invoice_id if invoice_id is not None else beijing_invoice_number(1),
        "status": status,
        "acknowledged_at": SAMPLE_ACKNOWLEDGED_AT,
        "authority_ref": "sllsh-0001",
        "source_system": "leqi-beijing",
    }
    if status == "rejected":
        event["reason_code"] = "E1001"
        event["reason"] = "购买方纳税人识别号校验不通过"
    event.update(overrides)
    return event


SAMPLE_SUBMITTED_AT = "2024-05-01T10:00:30+08:00"


def sample_submitted(invoice_id: str | None = None, **overrides: Any) -> dict[str, Any]:
    """A valid successful upload of ``sample_issued()`` (or of ``invoice_id``) over 乐企."""
    event: dict[str, Any] = {
        "schema_version": 1,
        "event_type": "invoice.submitted",
        "event_id": str(uuid.uuid4()),
        "invoice_id": invoice_id if invoice_id is not None else beijing_invoice_number(1),
        "submitted_at": SAMPLE_SUBMITTED_AT,
        "channel": "leqi",
        "client_name": "erp-beijing-uploader",
        "client_version": "3.2.1",
        "attempt": 1,
    }
    event.update(overrides)
    return event


def sample_alert(**overrides: Any) -> dict[str, Any]:
    """A valid ``unsynced`` alert about ``sample_issued()``."""
    event: dict[str, Any] = {
        "schema_version": 1,
        "event_type": "invoice.sync.alert",
        "alert_id": str(uuid.uuid4()),
        "kind": "unsynced",
        "severity": "warning",
        "invoice_id": beijing_invoice_number(1),
        "region_code": BEIJING,
        "source_system": "erp-beijing",
        "seller_tax_id": sample_uscc(),
        "issued_at": SAMPLE_ISSUED_AT,
        "deadline_at": "2024-05-01T10:15:00+08:00",
        "detected_at": "2024-05-01T10:15:05+08:00",
        "age_seconds": 905.0,
        "message": "invoice not acknowledged 15 minutes after issue",
    }
    event.update(overrides)
    return event
