"""check-config (exit 0 or 1 naming every problem), the SLA rules model behind the chart's values
schema agreeing with the worker's loader, --version, and `kafka --help`."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from pipeline.cli import main
from pipeline.config_check import run_check
from pipeline.contracts.sla_rules import SlaRulesDocument
from pipeline.correlation.sla import SlaRules, SlaRulesError, Thresholds

TOKENS = "ops:operator:0123456789abcdefghij"
GOOD = [
    "rules: [{region_code: '110000', source_system: erp-a, warn_after: 5m, critical_after: 1h}]",
    "rules: [{region_code: 110000, warn_after: 300, critical_after: 4h}, "
    "{source_system: pac-mx, warn_after: 24h, critical_after: 72h}]",
    "default: {warn_after: 15m, critical_after: 1h}",
    "",
]
BAD = [
    "rules: [{region_code: '1', warn_after: 5m}]",
    "rules: [{source_system: a, warn_after: soon, critical_after: 1h}]",
    "rules: [{region_code: '1', warn_after: 1h, critical_after: 5m}]",
    "rules: [{region_code: '1', warn_after: 0, critical_after: 5m}]",
    "rules: [{warn_after: 1m, critical_after: 5m}]",
    "rules: [{region_code: '', warn_after: 1m, critical_after: 5m}]",
    "rules: [{region: '1', warn_after: 1m, critical_after: 5m}]",
    "rules:\n - {region_code: '1', warn_after: 1m, critical_after: 5m}\n"
    " - {region_code: 1, warn_after: 2m, critical_after: 5m}",
    "rules: [5]",
    "rules: {a: 1}",
    "rulez: []",
    "default: {warn_after: 1m}",
    "rules: [{source_system: a, warn_after: true, critical_after: 1h}]",
]
DEFAULT = Thresholds(900.0, 3600.0)


@pytest.mark.parametrize("content", GOOD)
def test_the_model_and_the_loader_accept_the_same_files(tmp_path: Path, content: str) -> None:
    path = tmp_path / "sla.yaml"
    path.write_text(content)
    SlaRules.load(path, DEFAULT)
    SlaRulesDocument.model_validate(yaml.safe_load(content) or {})


@pytest.mark.parametrize("content", BAD)
def test_the_model_and_the_loader_refuse_the_same_files(tmp_path: Path, content: str) -> None:
    path = tmp_path / "sla.yaml"
    path.write_text(content)
    with pytest.raises(SlaRulesError):
        SlaRules.load(path, DEFAULT)
    with pytest.raises(ValidationError):
        SlaRulesDocument.model_validate(yaml.safe_load(content))


def test_check_config_passes_a_good_configuration(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INVOICE_SYNC_API_TOKENS", TOKENS)
    rules = tmp_path / "sla.yaml"
    rules.write_text(GOOD[1])
    out, err = io.StringIO(), io.StringIO()
    assert run_check(rules, out, err) == 0, err.getvalue()
    assert "SUCCESS" in out.getvalue() and "2 specific rule(s)" in out.getvalue()
    assert "ops (operator)" in out.getvalue() and "0123456789" not in out.getvalue()


@pytest.mark.parametrize(("env", "rules", "named"), [
    ({"INVOICE_SYNC_API_TOKENS": TOKENS, "INVOICE_SYNC_WARN_AFTER": "soon"}, None,
     "INVOICE_SYNC_WARN_AFTER"),
    ({}, None, "INVOICE_SYNC_API_AUTH=tokens: no API token configured"),
    ({"INVOICE_SYNC_API_TOKENS": TOKENS}, BAD[2], r"rules[0]: critical_after"),
    ({"INVOICE_SYNC_API_TOKENS": TOKENS}, "rules: [", "not valid YAML"),
])
def test_check_config_fails_naming_the_problem(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, env: dict[str, str],
        rules: str | None, named: str) -> None:
    for name in ("INVOICE_SYNC_API_TOKENS", "INVOICE_SYNC_API_AUTH", "INVOICE_SYNC_SLA_RULES"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    path = None
    if rules is not None:
        path = tmp_path / "sla.yaml"
        path.write_text(rules)
    out, err = io.StringIO(), io.StringIO()
    assert run_check(path, out, err) == 1
    assert named in err.getvalue() and "FAILED" in err.getvalue() and out.getvalue() == ""


def test_version_and_kafka_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0 and capsys.readouterr().out.startswith("invoice-sync 0.")
    assert main(["kafka", "--help"]) == 0
    assert "start" in capsys.readouterr().out
