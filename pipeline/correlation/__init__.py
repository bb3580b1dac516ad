"""The pure correlation core: issued invoices and acknowledgements in, alerts out.

No faust, Kafka, I/O or wall clock here: the adapter passes the current time and the
acknowledgement watermark in, and stores :class:`InvoiceState` records (``encode`` /
``decode``) in its table.
"""

from .alerts import Alert, AlertKind, Scope, Severity, degraded_alert_id, invoice_alert_id
from .deadlines import DeadlineIndex
from .durations import format_duration, parse_duration
from .facts import Ack, AckStatus, Issued
from .ratelimit import TokenBucket
from .rules import (
    DEFAULT_RETENTION,
    MAX_FUTURE_SKEW,
    Decision,
    Sync,
    is_expired,
    next_deadline,
    next_due,
    on_ack,
    on_due,
    on_issued,
    synced_transition,
)
from .sla import SlaRules, SlaRulesError, Thresholds
from .state import Flag, InvoiceState, decode, encode

__all__ = [
    "DEFAULT_RETENTION",
    "MAX_FUTURE_SKEW",
    "Ack",
    "AckStatus",
    "Alert",
    "AlertKind",
    "DeadlineIndex",
    "Decision",
    "Flag",
    "InvoiceState",
    "Issued",
    "Scope",
    "Severity",
    "SlaRules",
    "SlaRulesError",
    "Sync",
    "Thresholds",
    "TokenBucket",
    "decode",
    "degraded_alert_id",
    "encode",
    "format_duration",
    "invoice_alert_id",
    "is_expired",
    "next_deadline",
    "next_due",
    "on_ack",
    "on_due",
    "on_issued",
    "parse_duration",
    "synced_transition",
]
