"""Per region / source system acknowledgement thresholds, loaded from a YAML or JSON file.

File shape::

    default:            # optional; otherwise the settings' WARN_AFTER / CRITICAL_AFTER
      warn_after: 15m
      critical_after: 1h
    rules:
      - {region_code: "110000", source_system: erp-a, warn_after: 5m, critical_after: 1h}
      - {region_code: "440000", warn_after: 30m, critical_after: 4h}
      - {source_system: pac-mx, warn_after: 24h, critical_after: 72h}

Most specific match wins: region+source > region > source > default.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .durations import parse_duration


class SlaRulesError(ValueError):
    """The SLA rules file cannot be used; the message names file, rule and field."""


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Seconds after issue at which a missing acknowledgement is a warning, then critical."""

    warn_after: float
    critical_after: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.warn_after) and math.isfinite(self.critical_after)):
            raise ValueError("thresholds must be finite")
        if self.warn_after <= 0:
            raise ValueError(f"warn_after must be > 0, got {self.warn_after}")
        if self.critical_after <= self.warn_after:
            raise ValueError(
                f"critical_after ({self.critical_after}) must be greater than "
                f"warn_after ({self.warn_after})"
            )


_RULE_KEYS = frozenset({"region_code", "source_system", "warn_after", "critical_after"})
_TOP_KEYS = frozenset({"default", "rules"})


@dataclass(frozen=True, slots=True)
class SlaRules:
    """Thresholds resolved per (region_code, source_system)."""

    default: Thresholds
    by_region_and_source: Mapping[tuple[str, str], Thresholds] = field(default_factory=dict)
    by_region: Mapping[str, Thresholds] = field(default_factory=dict)
    by_source: Mapping[str, Thresholds] = field(default_factory=dict)

    def for_invoice(self, region_code: str, source_system: str) -> Thresholds:
        """The most specific thresholds for an invoice of this region and source system."""
        return (
            self.by_region_and_source.get((region_code, source_system))
            or self.by_region.get(region_code)
            or self.by_source.get(source_system)
            or self.default
        )

    @classmethod
    def load(cls, path: str | Path, default: Thresholds) -> SlaRules:
        """Read rules from ``path`` (``.json`` as JSON, anything else as YAML).

        ``default`` (from settings) applies unless the file has a ``default`` section.
        Raises SlaRulesError naming the file, the rule index and the field at fault.
        """
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise SlaRulesError(f"{path}: cannot read SLA rules: {exc.strerror}") from exc
        try:
            data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
        except (ValueError, yaml.YAMLError) as exc:
            raise SlaRulesError(f"{path}: not valid {_format_name(path)}: {exc}") from exc
        return cls.from_document(data, default, source=str(path))

    @classmethod
    def from_document(cls, data: Any, default: Thresholds, *, source: str) -> SlaRules:
        """Build rules from parsed file content; ``source`` names it in error messages."""
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise SlaRulesError(f"{source}: top level must be a mapping with 'rules'")
        unknown = set(data) - _TOP_KEYS
        if unknown:
            raise SlaRulesError(f"{source}: unknown top-level keys {sorted(unknown)}")
        if data.get("default") is not None:
            default = _thresholds(data["default"], f"{source}: default")
        rules = data.get("rules") or []
        if not isinstance(rules, list):
            raise SlaRulesError(f"{source}: 'rules' must be a list")
        both: dict[tuple[str, str], Thresholds] = {}
        regions: dict[str, Thresholds] = {}
        sources: dict[str, Thresholds] = {}
        for index, rule in enumerate(rules):
            where = f"{source}: rules[{index}]"
            if not isinstance(rule, dict):
                raise SlaRulesError(f"{where}: must be a mapping")
            unknown = set(rule) - _RULE_KEYS
            if unknown:
                raise SlaRulesError(f"{where}: unknown keys {sorted(unknown)}")
            region = _optional_text(rule, "region_code", where)
            system = _optional_text(rule, "source_system", where)
            thresholds = _thresholds(rule, where)
            key: object
            if region is not None and system is not None:
                table: dict[Any, Thresholds] = both
                key = (region, system)
            elif region is not None:
                table, key = regions, region
            elif system is not None:
                table, key = sources, system
            else:
                raise SlaRulesError(f"{where}: needs region_code, source_system or both")
            if key in table:
                raise SlaRulesError(f"{where}: duplicate rule for {key!r}")
            table[key] = thresholds
        return cls(default, both, regions, sources)


def _format_name(path: Path) -> str:
    return "JSON" if path.suffix == ".json" else "YAML"


def _optional_text(rule: dict[str, Any], name: str, where: str) -> str | None:
    value = rule.get(name)
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        # YAML reads an unquoted 110000 as an int; region codes are digits, so accept it.
        return str(value)
    if not isinstance(value, str) or not value:
        raise SlaRulesError(f"{where}: field '{name}' must be a non-empty string, got {value!r}")
    return value


def _thresholds(section: Any, where: str) -> Thresholds:
    if not isinstance(section, dict):
        raise SlaRulesError(f"{where}: must be a mapping with warn_after and critical_after")
    seconds: dict[str, float] = {}
    for name in ("warn_after", "critical_after"):
        if name not in section:
            raise SlaRulesError(f"{where}: missing field '{name}'")
        try:
            seconds[name] = parse_duration(section[name])
        except ValueError as exc:
            raise SlaRulesError(f"{where}: field '{name}': {exc}") from exc
    try:
        return Thresholds(seconds["warn_after"], seconds["critical_after"])
    except ValueError as exc:
        raise SlaRulesError(f"{where}: {exc}") from exc
