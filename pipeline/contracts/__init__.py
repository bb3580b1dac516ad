"""The Kafka event contracts: ``invoice.issued``, ``invoice.submitted``, ``tax.acknowledged``,
``invoice.sync.alert``.

Frozen pydantic v2 models; the wire format is UTF-8 JSON (``to_wire()``), money travels as
two-place strings and timestamps as ISO 8601 with an offset.
"""

from pipeline.contracts.acknowledged import AckStatus, TaxAcknowledged
from pipeline.contracts.alert import (
    AlertKind,
    AlertSeverity,
    CauseCode,
    DegradedScope,
    ProbableCause,
    SyncAlert,
)
from pipeline.contracts.base import WireEvent
from pipeline.contracts.errors import compact_error
from pipeline.contracts.invoice_types import TypeCodeSpace
from pipeline.contracts.issued import InvoiceIssued
from pipeline.contracts.money import Money
from pipeline.contracts.submitted import InvoiceSubmitted, SubmissionChannel
from pipeline.contracts.timestamps import OffsetDateTime

EVENT_MODELS: dict[str, type[WireEvent]] = {
    "invoice.issued": InvoiceIssued,
    "invoice.submitted": InvoiceSubmitted,
    "tax.acknowledged": TaxAcknowledged,
    "invoice.sync.alert": SyncAlert,
}
"""event_type -> contract model."""

__all__ = [
    "EVENT_MODELS",
    "AckStatus",
    "AlertKind",
    "AlertSeverity",
    "CauseCode",
    "DegradedScope",
    "InvoiceIssued",
    "InvoiceSubmitted",
    "Money",
    "OffsetDateTime",
    "ProbableCause",
    "SubmissionChannel",
    "SyncAlert",
    "TaxAcknowledged",
    "TypeCodeSpace",
    "WireEvent",
    "compact_error",
]
