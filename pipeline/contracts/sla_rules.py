"""The SLA rules file (``INVOICE_SYNC_SLA_RULES``) as a pydantic model, for its JSON Schema.

``schemas/sla-rules.schema.json`` is generated from :class:`SlaRulesDocument` (``invoice-sync
schemas export``) and goes into the Helm chart's values schema, so a bad rule fails at
``helm install`` rather than at the worker's start. The worker itself reads the file with
:meth:`pipeline.correlation.sla.SlaRules.load`, whose messages name the file, rule and field;
``invoice-sync check-config`` runs both, and tests/unit/test_sla_rules_model.py holds the two
to the same verdicts.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from pipeline.correlation.durations import parse_duration

DURATION_PATTERN = r"^\s*\d+(\.\d+)?\s*[smhd]?\s*$"

Duration = Annotated[
    Annotated[str, Field(pattern=DURATION_PATTERN)]
    | Annotated[float, Field(ge=0, allow_inf_nan=False, strict=True)]
    | Annotated[int, Field(ge=0, strict=True)],
    AfterValidator(parse_duration),
    Field(description="seconds, or a number followed by s, m, h or d: 90, '90s', '15m', '4h'"),
]


class ThresholdsDocument(BaseModel):
    """Seconds after issue at which a missing acknowledgement is a warning, then critical."""

    model_config = ConfigDict(extra="forbid")

    warn_after: Duration
    critical_after: Duration

    @model_validator(mode="after")
    def _ordered(self) -> ThresholdsDocument:
        warn, critical = float(self.warn_after), float(self.critical_after)
        if warn <= 0:
            raise ValueError("warn_after must be > 0")
        if critical <= warn:
            raise ValueError("critical_after must be greater than warn_after")
        return self


class SlaRuleDocument(ThresholdsDocument):
    """Thresholds for a region, a source system, or both (the most specific match wins)."""

    region_code: Annotated[str, Field(min_length=1)] | Annotated[int, Field(strict=True)] \
        | None = Field(default=None, description="GB/T 2260 region, e.g. '110000'")
    source_system: Annotated[str, Field(min_length=1)] | None = None

    @model_validator(mode="after")
    def _scoped(self) -> SlaRuleDocument:
        if self.region_code is None and self.source_system is None:
            raise ValueError("needs region_code, source_system or both")
        return self


class SlaRulesDocument(BaseModel):
    """``INVOICE_SYNC_SLA_RULES``: optional default thresholds and per region/source rules."""

    model_config = ConfigDict(extra="forbid")

    default: ThresholdsDocument | None = None
    rules: list[SlaRuleDocument] = Field(default_factory=list)

    @model_validator(mode="after")
    def _no_duplicates(self) -> SlaRulesDocument:
        seen: set[tuple[Any, Any]] = set()
        for index, rule in enumerate(self.rules):
            region = None if rule.region_code is None else str(rule.region_code)
            key = (region, rule.source_system)
            if key in seen:
                raise ValueError(f"rules[{index}]: duplicate rule for {key}")
            seen.add(key)
        return self
