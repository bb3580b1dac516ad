"""``invoice-sync check-config``: validate what a worker would read at start-up, without starting.

Like ``promtool check config``: offline (no broker contacted, so it runs as the Helm chart's init
check before Kafka is reachable), every problem printed on its own line naming the setting or the
file, exit 0 when the configuration would start a worker, 1 when it would not.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TextIO

import yaml
from pydantic import ValidationError

from pipeline.contracts.sla_rules import SlaRulesDocument
from pipeline.correlation.sla import SlaRulesError
from pipeline.settings import SettingsError, load_api_tokens, load_settings, load_sla


def check_sla_document(path: Path) -> list[str]:
    """Problems the SLA rules file's JSON Schema model finds (what the chart's schema checks)."""
    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (OSError, ValueError, yaml.YAMLError):
        return []  # the loader reports unreadable and unparsable files
    try:
        SlaRulesDocument.model_validate(data or {})
    except ValidationError as exc:
        return [f"{path}: {'.'.join(str(p) for p in err['loc']) or '(top level)'}: "
                f"{err['msg'].removeprefix('Value error, ')}" for err in exc.errors()]
    return []


def run_check(sla_rules: Path | None, out: TextIO | None = None,
              err: TextIO | None = None) -> int:
    """Check the INVOICE_SYNC_* settings, the API tokens and the SLA rules file.

    ``out``/``err`` default to the streams current at the call (not at import).
    """
    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    problems: list[str] = []
    try:
        settings = load_settings(**({"sla_rules": sla_rules} if sla_rules else {}))
    except SettingsError as exc:
        problems += str(exc).splitlines()
        settings = None
    summary = []
    if settings is not None:
        try:
            tokens = load_api_tokens(settings)
            summary.append("API authentication disabled" if tokens is None else
                           f"{len(tokens)} API token(s): "
                           + ", ".join(f"{n} ({r})" for n, r in tokens.names()))
        except SettingsError as exc:
            problems.append(str(exc))
        try:
            rules = load_sla(settings)
            specific = (len(rules.by_region_and_source) + len(rules.by_region)
                        + len(rules.by_source))
            summary.append(f"SLA: default warn {rules.default.warn_after:g}s critical "
                           f"{rules.default.critical_after:g}s, {specific} specific rule(s)"
                           + (f" from {settings.sla_rules}" if settings.sla_rules else ""))
        except SlaRulesError as exc:
            problems.append(str(exc))
        if settings.sla_rules is not None and not problems:
            problems += check_sla_document(settings.sla_rules)
    if problems:
        for line in problems:
            err.write(f"FAILED: {line}\n")
        err.write(f"invoice-sync check-config: {len(problems)} problem(s)\n")
        return 1
    assert settings is not None
    out.write(f"SUCCESS: settings valid (broker {settings.broker}, {settings.partitions} "
              f"partitions, topics {settings.topic_issued}, {settings.topic_acknowledged})\n")
    for line in summary:
        out.write(f"  {line}\n")
    return 0
