"""``invoice.sync.alert``: what the pipeline says about invoices not acknowledged in time."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictInt, model_validator

from pipeline.contracts.base import WireEvent
from pipeline.contracts.identifiers import INVOICE_ID_MAX, EventId, ReasonCode, ReasonText
from pipeline.contracts.timestamps import OffsetDateTime
from pipeline.correlation.causes import CauseCode as CauseCode  # one list: the rules' own

AlertKind = Literal["unsynced", "rejected", "resolved", "orphan_ack", "degraded", "maintenance"]
AlertSeverity = Literal["info", "warning", "critical"]
DegradedScope = Literal["region_code", "source_system", "platform", "client_version"]
"""What a scope alert is about; ``platform`` is everything (no value field)."""


Seconds = Annotated[float, Field(allow_inf_nan=False)]
Count = Annotated[StrictInt, Field(ge=0)]
MESSAGE_MAX = 1000
EvidenceValue = (bool | StrictInt | Annotated[float, Field(allow_inf_nan=False)]
                 | Annotated[str, Field(max_length=MESSAGE_MAX)])
"""One fact behind a probable cause; keys ending in ``_at`` are ISO 8601 times."""


def _one_line(value: Any) -> Any:
    # Messages quote rejection reasons from the tax platform, which may be long or multi-line;
    # an alert must never fail to be built because of them.
    if not isinstance(value, str):
        return value
    line = " ".join(value.split())
    return line if len(line) <= MESSAGE_MAX else line[: MESSAGE_MAX - 1] + "…"


class ProbableCause(BaseModel):
    """Why the invoice (or scope) is probably not acknowledged: ``code`` (docs/causes.md lists
    them with whom to call), ``summary`` (one line for a person) and ``evidence`` (the facts the
    rule used: counts, the last upload attempt, the declared window, the rejection reason)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    code: CauseCode
    summary: Annotated[str, BeforeValidator(_one_line), Field(max_length=MESSAGE_MAX)]
    evidence: dict[Annotated[str, Field(max_length=64)], EvidenceValue] = Field(
        default_factory=dict, max_length=32)


class SyncAlert(WireEvent):
    """One alert about one invoice, or (``degraded``) about a whole region or source system.

    Per kind: ``unsynced``/``rejected``/``orphan_ack`` name an ``invoice_id``; ``rejected``
    carries ``reason_code`` and ``reason``; ``resolved`` lists the alerts it resolves in
    ``resolved_alert_ids`` and names either an ``invoice_id`` (usually with
    ``latency_seconds``) or, ending a degraded episode, has ``invoice_id == ""`` and a
    ``scope``; ``degraded`` has ``invoice_id == ""``, a ``scope``, the affected value in the
    field the scope names (``region_code`` or ``source_system``), and ``unsynced_count``,
    ``due_count``, ``window_seconds`` (scopes: ``region_code``, ``source_system``,
    ``client_version`` name their value in the field of that name; ``platform`` is every region);
    ``maintenance`` (info) marks the start and the end of a declared maintenance window, with
    ``invoice_id == ""`` and a ``scope``. ``probable_cause`` (``unsynced``, ``degraded``,
    ``maintenance``) says why. Fields that do not apply are "", null, or omitted.
    ``message`` is folded onto one line (whitespace runs become one space) and cut to 1000
    characters.
    """

    schema_version: StrictInt = Field(default=1, ge=1)
    event_type: Literal["invoice.sync.alert"] = "invoice.sync.alert"
    alert_id: EventId
    kind: AlertKind
    severity: AlertSeverity
    invoice_id: str = Field(max_length=INVOICE_ID_MAX)
    region_code: str = Field(default="", pattern=r"^([0-9]{6})?$")
    source_system: str = Field(default="", max_length=128)
    seller_tax_id: str = Field(default="", max_length=20)
    issued_at: OffsetDateTime | None = None
    deadline_at: OffsetDateTime | None = None
    detected_at: OffsetDateTime
    age_seconds: Seconds | None = None
    reason_code: ReasonCode | None = None
    reason: ReasonText | None = None
    latency_seconds: Seconds | None = None
    resolved_alert_ids: tuple[str, ...] = ()
    scope: DegradedScope | None = None
    unsynced_count: Count | None = None
    due_count: Count | None = None
    window_seconds: Annotated[Seconds, Field(gt=0)] | None = None
    message: Annotated[str, BeforeValidator(_one_line), Field(max_length=MESSAGE_MAX)] = ""
    probable_cause: ProbableCause | None = None
    client_version: Annotated[str, Field(min_length=1, max_length=129)] | None = None

    @model_validator(mode="after")
    def _fits_kind(self) -> SyncAlert:
        problems = _invoice_problems(self) if self.invoice_id else _scope_problems(self)
        if problems:
            raise ValueError("; ".join(problems))
        return self


def _invoice_problems(alert: SyncAlert) -> list[str]:
    problems = []
    if alert.kind in ("degraded", "maintenance"):
        problems.append(f'invoice_id: must be "" for a {alert.kind} alert')
    if alert.kind == "rejected":
        problems += [f"{name}: required for a rejected alert" for name in ("reason_code", "reason")
                     if not getattr(alert, name)]
    if alert.kind == "resolved" and not alert.resolved_alert_ids:
        problems.append("resolved_alert_ids: a resolved alert names the alerts it resolves")
    return problems


def _scope_problems(alert: SyncAlert) -> list[str]:
    """Alerts without an invoice: degraded episodes, the resolved alerts that end them, and
    maintenance windows."""
    if alert.kind not in ("degraded", "resolved", "maintenance"):
        return [f"invoice_id: required for a {alert.kind} alert"]
    problems = []
    if alert.scope is None:
        problems.append(f"scope: required for a {alert.kind} alert without invoice_id")
    elif alert.scope != "platform" and not getattr(alert, alert.scope):
        problems.append(f"{alert.scope}: names the {alert.scope} of scope; must not be empty")
    if alert.kind == "resolved" and not alert.resolved_alert_ids:
        problems.append("resolved_alert_ids: a resolved alert names the alerts it resolves")
    if alert.kind == "degraded":
        problems += [f"{name}: required for a degraded alert"
                     for name in ("unsynced_count", "due_count", "window_seconds")
                     if getattr(alert, name) is None]
    return problems
