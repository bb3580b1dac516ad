"""SLA thresholds: validation, file loading, most-specific-match and error messages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.correlation import SlaRules, SlaRulesError, Thresholds

DEFAULT = Thresholds(900.0, 14400.0)

RULES_YAML = """
rules:
  - {region_code: "110000", source_system: erp-a, warn_after: 5m, critical_after: 1h}
  - {region_code: 110000, warn_after: 10m, critical_after: 2h}
  - {source_system: erp-a, warn_after: 20m, critical_after: 3h}
  - {source_system: pac-mx, warn_after: 24h, critical_after: 72h}
"""


@pytest.fixture
def rules(tmp_path: Path) -> SlaRules:
    path = tmp_path / "sla.yaml"
    path.write_text(RULES_YAML)
    return SlaRules.load(path, DEFAULT)


@pytest.mark.parametrize(
    ("region", "source", "expected"),
    [
        ("110000", "erp-a", Thresholds(300, 3600)),  # region + source
        ("110000", "erp-b", Thresholds(600, 7200)),  # region
        ("440000", "erp-a", Thresholds(1200, 10800)),  # source
        ("440000", "pac-mx", Thresholds(86400, 259200)),  # source
        ("440000", "erp-b", DEFAULT),  # default from settings
    ],
)
def test_most_specific_match_wins(
    rules: SlaRules, region: str, source: str, expected: Thresholds
) -> None:
    assert rules.for_invoice(region, source) == expected


def test_file_default_overrides_settings(tmp_path: Path) -> None:
    path = tmp_path / "sla.json"
    path.write_text(json.dumps({"default": {"warn_after": 60, "critical_after": "2m"}}))
    assert SlaRules.load(path, DEFAULT).for_invoice("x", "y") == Thresholds(60, 120)


def test_empty_file_means_settings_default(tmp_path: Path) -> None:
    path = tmp_path / "sla.yaml"
    path.write_text("")
    assert SlaRules.load(path, DEFAULT).for_invoice("x", "y") == DEFAULT


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("rules: [{region_code: '1', warn_after: 5m}]",
         r"sla.yaml: rules\[0\]: missing field 'critical_after'"),
        ("rules: [{region_code: '1', warn_after: 5m, critical_after: 1h},"
         " {source_system: a, warn_after: soon, critical_after: 1h}]",
         r"sla.yaml: rules\[1\]: field 'warn_after': invalid duration 'soon': expected"),
        ("rules: [{region_code: '1', warn_after: 1h, critical_after: 5m}]",
         r"sla.yaml: rules\[0\]: critical_after \(300.0\) must be greater than warn_after"),
        ("rules: [{region_code: '1', warn_after: 0, critical_after: 5m}]",
         r"sla.yaml: rules\[0\]: warn_after must be > 0"),
        ("rules: [{warn_after: 1m, critical_after: 5m}]",
         r"sla.yaml: rules\[0\]: needs region_code, source_system or both"),
        ("rules: [{region_code: '', warn_after: 1m, critical_after: 5m}]",
         r"sla.yaml: rules\[0\]: field 'region_code' must be a non-empty string"),
        ("rules: [{region: '1', warn_after: 1m, critical_after: 5m}]",
         r"sla.yaml: rules\[0\]: unknown keys \['region'\]"),
        ("rules:\n - {region_code: '1', warn_after: 1m, critical_after: 5m}\n"
         " - {region_code: 1, warn_after: 2m, critical_after: 5m}",
         r"sla.yaml: rules\[1\]: duplicate rule for '1'"),
        ("rules: [5]", r"sla.yaml: rules\[0\]: must be a mapping"),
        ("rules: {a: 1}", r"sla.yaml: 'rules' must be a list"),
        ("- 1", r"sla.yaml: top level must be a mapping"),
        ("rulez: []", r"sla.yaml: unknown top-level keys \['rulez'\]"),
        ("default: {warn_after: 1m}", r"sla.yaml: default: missing field 'critical_after'"),
        ("rules: [", r"sla.yaml: not valid YAML"),
    ],
)  # fmt: skip
def test_errors_name_file_rule_and_field(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "sla.yaml"
    path.write_text(content)
    with pytest.raises(SlaRulesError, match=message):
        SlaRules.load(path, DEFAULT)


def test_invalid_json(tmp_path: Path) -> None:
    path = tmp_path / "sla.json"
    path.write_text("{rules: []}")
    with pytest.raises(SlaRulesError, match=r"sla.json: not valid JSON"):
        SlaRules.load(path, DEFAULT)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SlaRulesError, match=r"nope.yaml: cannot read SLA rules"):
        SlaRules.load(tmp_path / "nope.yaml", DEFAULT)


@pytest.mark.parametrize(
    ("warn", "critical"), [(0, 10), (-1, 10), (10, 10), (10, 5), (float("inf"), 1e9)]
)
def test_thresholds_validate(warn: float, critical: float) -> None:
    with pytest.raises(ValueError):
        Thresholds(warn, critical)
