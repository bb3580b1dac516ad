"""Checks of the monitoring deployment: Prometheus rules, Alertmanager, Grafana, runbooks.

Runs the real promtool and amtool (Debian packages, installed by
scripts/install-monitoring.sh); a missing tool fails the run rather than skipping it.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from pipeline.metrics import Metrics

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS_DIR = ROOT / "deploy" / "prometheus"
PROMETHEUS_CONFIG = PROMETHEUS_DIR / "prometheus.yml"
RULES_FILE = PROMETHEUS_DIR / "rules" / "invoice-sync.rules.yml"
RULES_TEST_FILE = PROMETHEUS_DIR / "tests" / "invoice-sync.rules.test.yml"
ALERTMANAGER_CONFIG = ROOT / "deploy" / "alertmanager" / "alertmanager.yml"
DASHBOARD_FILE = ROOT / "deploy" / "grafana" / "dashboards" / "invoice-sync.json"
GRAFANA_PROVISIONING = ROOT / "deploy" / "grafana" / "provisioning"
# The rules file is rendered with the chart's default runbook base: the page's path in the repo.
RUNBOOK_PAGE = "docs/runbook.md"

# The metrics the workers export, read from the worker's own registry so rules, dashboard and
# code cannot drift apart.
EXPORTED_METRICS = frozenset(
    family.name + "_total" if family.type == "counter" else family.name
    for family in Metrics().registry.collect()
)
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")
SEVERITIES = frozenset({"critical", "warning", "info"})

METRIC_NAME = re.compile(r"invoice_sync_[a-z_]+")
# Recording rule names (level:metric:operations) contain colons; raw metric names never do.
RECORDED_NAME = re.compile(r"(?<![\w:])[A-Za-z_]\w*:[\w:]+")
FOR_LINE = re.compile(r"^(?P<indent>\s+)for: (?P<minutes>\d+)m$", re.MULTILINE)
ALERT_NAME = re.compile(r"^InvoiceSync(?:[A-Z][a-z0-9]*)+$")

INSTALL_HINT = "run scripts/install-monitoring.sh (as root) to install Prometheus and Alertmanager"


def require_tool(name: str) -> str:
    """Return the path of a monitoring CLI, failing the test when it is not installed."""
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} not found on PATH: {INSTALL_HINT}", pytrace=False)
    return path


def run_tool(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run a CLI and return its result, with its output available for assertion messages."""
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=120, check=False)


def load_yaml(path: Path) -> Any:
    """Parse one YAML document."""
    with path.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def rule_groups() -> list[dict[str, Any]]:
    """The rule groups of the invoice-sync rules file."""
    groups: list[dict[str, Any]] = load_yaml(RULES_FILE)["groups"]
    return groups


def alert_rules() -> list[dict[str, Any]]:
    """Every alerting rule, in file order."""
    return [rule for group in rule_groups() for rule in group["rules"] if "alert" in rule]


def recorded_names() -> set[str]:
    """Names of the recording rules defined in the rules file."""
    return {
        rule["record"] for group in rule_groups() for rule in group["rules"] if "record" in rule
    }


def dashboard() -> dict[str, Any]:
    """The Grafana dashboard model."""
    model: dict[str, Any] = json.loads(DASHBOARD_FILE.read_text(encoding="utf-8"))
    return model


def runbook_headings(level: int) -> list[str]:
    """Headings of docs/runbook.md at one level, outside code blocks."""
    headings, fenced = [], False
    for line in (ROOT / RUNBOOK_PAGE).read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and line.startswith("#" * level + " "):
            headings.append(line[level + 1:].strip())
    return headings


def runbook_anchors() -> set[str]:
    """The anchors a Markdown renderer gives the runbook's headings (lower case, - for spaces)."""
    return {
        re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        for level in (1, 2, 3)
        for heading in runbook_headings(level)
    }


def data_panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Panels that show data: rows are only containers, their nested panels are included."""
    for panel in panels:
        if panel.get("type") == "row":
            yield from data_panels(panel.get("panels", []))
        else:
            yield panel


def dashboard_exprs() -> list[str]:
    """Every PromQL expression in the dashboard, including template variable queries."""
    model = dashboard()
    exprs = [t["expr"] for p in data_panels(model["panels"]) for t in p.get("targets", [])]
    for variable in model["templating"]["list"]:
        if variable["type"] == "query":
            query = variable["query"]
            exprs.append(query["query"] if isinstance(query, dict) else query)
    return exprs


def unknown_metric_names(expr: str, recorded: set[str]) -> set[str]:
    """Names in expr that are neither exported by the workers nor defined recording rules."""
    unknown = {name for name in RECORDED_NAME.findall(expr) if name not in recorded}
    raw = RECORDED_NAME.sub(" ", expr)
    for name in METRIC_NAME.findall(raw):
        base = name
        for suffix in HISTOGRAM_SUFFIXES:
            base = base.removesuffix(suffix)
        if name not in EXPORTED_METRICS and base not in EXPORTED_METRICS:
            unknown.add(name)
    return unknown


def with_short_for(rules_text: str, seconds: int) -> str:
    """Rewrite every `for: <N>m` to `for: <seconds>s` (the end-to-end test's fast variant).

    Kept here to pin the format the rules file must keep; tests/e2e has its own copy.
    """
    return FOR_LINE.sub(lambda m: f"{m.group('indent')}for: {seconds}s", rules_text)


@pytest.fixture(scope="module")
def promtool() -> str:
    return require_tool("promtool")


@pytest.fixture(scope="module")
def amtool() -> str:
    return require_tool("amtool")


# --- the real tools -------------------------------------------------------------------------


def test_promtool_check_config(promtool: str, tmp_path: Path) -> None:
    # A copy, so the relative rule_files glob is resolved exactly as in the compose mount.
    copy = tmp_path / "prometheus"
    shutil.copytree(PROMETHEUS_DIR, copy)
    result = run_tool([promtool, "check", "config", "prometheus.yml"], cwd=copy)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 rule files found" in result.stdout, result.stdout


def test_promtool_check_rules(promtool: str) -> None:
    result = run_tool([promtool, "check", "rules", str(RULES_FILE)], cwd=PROMETHEUS_DIR)
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_rule_unit_tests(promtool: str) -> None:
    result = run_tool([promtool, "test", "rules", str(RULES_TEST_FILE)], cwd=PROMETHEUS_DIR)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout, result.stdout


def test_amtool_check_config(amtool: str) -> None:
    result = run_tool([amtool, "check-config", str(ALERTMANAGER_CONFIG)], cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout, result.stdout


def test_dashboard_queries_are_valid_promql(promtool: str, tmp_path: Path) -> None:
    # promtool has no expression checker: wrap each query in a recording rule and check those.
    grafana_vars = {"$__rate_interval": "5m", "$__interval": "1m", "$region_code": ".*",
                    "$source_system": ".*", "$namespace": ".*", "$job": "invoice-sync"}
    rules = []
    for index, expr in enumerate(dashboard_exprs()):
        for variable, value in grafana_vars.items():
            expr = expr.replace(variable, value)
        if expr.startswith("label_values("):
            continue  # Grafana's own function, not PromQL
        assert "$" not in expr, f"unsubstituted Grafana variable in {expr!r}"
        rules.append({"record": f"dashboard:query_{index}:check", "expr": expr})
    rules_file = tmp_path / "dashboard.rules.yml"
    rules_file.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    result = run_tool([promtool, "check", "rules", str(rules_file)], cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_short_for_variant_is_valid(promtool: str, tmp_path: Path) -> None:
    text = RULES_FILE.read_text(encoding="utf-8")
    fast = with_short_for(text, 5)
    assert FOR_LINE.search(fast) is None
    assert fast.count("for: 5s") == len(alert_rules())
    fast_file = tmp_path / "invoice-sync.fast.rules.yml"
    fast_file.write_text(fast, encoding="utf-8")
    result = run_tool([promtool, "check", "rules", str(fast_file)], cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


# --- Prometheus rules -----------------------------------------------------------------------

ALERTS = alert_rules()


@pytest.mark.parametrize("rule", ALERTS, ids=[rule["alert"] for rule in ALERTS])
def test_alert_rule_conventions(rule: dict[str, Any]) -> None:
    name = rule["alert"]
    assert ALERT_NAME.match(name), f"{name}: CamelCase with the InvoiceSync prefix"
    assert rule["labels"]["severity"] in SEVERITIES
    # Alertmanager inhibits warnings by critical alerts with the same condition and region.
    assert rule["labels"].get("condition"), f"{name}: needs a condition label"
    assert re.fullmatch(r"\d+m", rule.get("for", "")), f"{name}: `for:` must be whole minutes"
    annotations = rule["annotations"]
    for key in ("summary", "description", "runbook_url"):
        assert annotations.get(key, "").strip(), f"{name}: missing annotation {key}"
    assert annotations["runbook_url"] == f"{RUNBOOK_PAGE}#{name.lower()}"
    assert name.lower() in runbook_anchors(), f"{name}: no section in {RUNBOOK_PAGE}"


def test_every_for_line_is_substitutable() -> None:
    # tests/e2e shortens `for:` with a line regex: each alert's must be on its own line.
    assert len(FOR_LINE.findall(RULES_FILE.read_text(encoding="utf-8"))) == len(ALERTS)


def test_alert_names_are_unique() -> None:
    names = [rule["alert"] for rule in ALERTS]
    assert len(names) == len(set(names))


def test_every_runbook_section_belongs_to_an_alert() -> None:
    sections = {heading for heading in runbook_headings(2) if heading.startswith("InvoiceSync")}
    assert sections == {rule["alert"] for rule in ALERTS}


def test_runbook_anchors_follow_the_markdown_slug_rule() -> None:
    # What GitHub and GitLab generate from "## InvoiceSyncPipelineDown"; the rules' URLs use it.
    assert "invoicesyncpipelinedown" in runbook_anchors()
    assert "looking-invoices-up" in runbook_anchors()


RULE_EXPRS = [
    (rule.get("alert") or rule["record"], rule["expr"])
    for g in rule_groups()
    for rule in g["rules"]
]


@pytest.mark.parametrize(("name", "expr"), RULE_EXPRS, ids=[name for name, _ in RULE_EXPRS])
def test_rule_uses_only_exported_metrics(name: str, expr: str) -> None:
    assert METRIC_NAME.search(expr) or RECORDED_NAME.search(expr) or "up{" in expr, name
    assert unknown_metric_names(expr, recorded_names()) == set(), name


@pytest.mark.parametrize(
    ("expr", "unknown"),
    [
        ("sum(invoice_sync_pending_invoices)", set()),
        ("rate(invoice_sync_latency_seconds_bucket[5m])", set()),
        ("rate(invoice_sync_latency_seconds_count[5m])", set()),
        ("invoice_sync_pending_invoice", {"invoice_sync_pending_invoice"}),
        ("rate(invoice_sync_rejections[5m])", {"invoice_sync_rejections"}),
        ("job:invoice_sync_rejections:rate15m > 1", set()),
        ("job:invoice_sync_missing:rate5m", {"job:invoice_sync_missing:rate5m"}),
    ],
)
def test_unknown_metric_names_detects_typos(expr: str, unknown: set[str]) -> None:
    assert unknown_metric_names(expr, {"job:invoice_sync_rejections:rate15m"}) == unknown


def test_recording_rules_follow_naming_convention() -> None:
    for name in recorded_names():
        level, metric, operations = name.split(":")
        assert level and operations, name
        assert metric.startswith("invoice_sync_"), name


# --- Alertmanager ---------------------------------------------------------------------------


def test_alertmanager_groups_by_alert_and_region() -> None:
    route = load_yaml(ALERTMANAGER_CONFIG)["route"]
    assert route["group_by"] == ["alertname", "region_code"]
    child_severities = {m for child in route["routes"] for m in child["matchers"]}
    assert {'severity="critical"', 'severity="warning"'} <= child_severities


def test_critical_inhibits_warning_for_same_condition_and_region() -> None:
    rules = load_yaml(ALERTMANAGER_CONFIG)["inhibit_rules"]
    severity_rule = [r for r in rules if r["source_matchers"] == ['severity="critical"']]
    assert len(severity_rule) == 1
    assert severity_rule[0]["target_matchers"] == ['severity="warning"']
    assert set(severity_rule[0]["equal"]) == {"condition", "region_code", "namespace", "job"}
    # PastCritical must be able to inhibit PastWarning: same condition, differing severity.
    by_name = {rule["alert"]: rule["labels"] for rule in ALERTS}
    critical = by_name["InvoiceSyncUnsyncedPastCritical"]
    warning = by_name["InvoiceSyncUnsyncedPastWarning"]
    assert (critical["severity"], warning["severity"]) == ("critical", "warning")
    assert critical["condition"] == warning["condition"]


def test_webhook_receiver_sends_resolved() -> None:
    config = load_yaml(ALERTMANAGER_CONFIG)
    receivers = {r["name"]: r for r in config["receivers"]}
    webhook = receivers[config["route"]["receiver"]]["webhook_configs"][0]
    assert webhook["url"] == "http://alert-webhook:8080/alerts"
    assert webhook["send_resolved"] is True


# --- Prometheus config ----------------------------------------------------------------------


def test_prometheus_scrapes_workers_and_sends_to_alertmanager() -> None:
    config = load_yaml(PROMETHEUS_CONFIG)
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    workers = jobs["invoice-sync"]
    assert workers.get("metrics_path", "/metrics") == "/metrics"
    assert workers["static_configs"][0]["targets"] == ["worker-1:6066", "worker-2:6066"]
    targets = config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"]
    assert targets == ["alertmanager:9093"]


# --- Grafana --------------------------------------------------------------------------------


def test_dashboard_has_stable_uid_and_datasource_variable() -> None:
    model = dashboard()
    assert model["uid"] == "invoice-sync"
    variables = {v["name"]: v for v in model["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"


def test_dashboard_selects_namespace_job_region_and_source_system() -> None:
    variables = {v["name"]: v for v in dashboard()["templating"]["list"]}
    assert {"namespace", "job", "region_code", "source_system"} <= set(variables)
    # "All" jobs is the list of invoice-sync jobs found, never a regex matching every job's `up`.
    assert "allValue" not in variables["job"]


PANELS = list(data_panels(dashboard()["panels"]))


@pytest.mark.parametrize("panel", PANELS, ids=[panel["title"] for panel in PANELS])
def test_dashboard_panel_has_unit_and_uses_datasource_variable(panel: dict[str, Any]) -> None:
    assert panel["fieldConfig"]["defaults"].get("unit"), f"{panel['title']}: no unit"
    assert panel["datasource"]["uid"] == "${datasource}"
    assert panel["targets"], f"{panel['title']}: no query"
    for target in panel["targets"]:
        assert target["datasource"]["uid"] == "${datasource}"


@pytest.mark.parametrize("panel", PANELS, ids=[panel["title"] for panel in PANELS])
def test_dashboard_panel_reads_the_chosen_namespace_and_job(panel: dict[str, Any]) -> None:
    for target in panel["targets"]:
        selectors = re.findall(r"\b(?:invoice_sync_\w+|up)\{([^}]*)\}", target["expr"])
        assert selectors, target["expr"]
        for matchers in selectors:
            assert 'namespace=~"$namespace", job=~"$job"' in matchers, target["expr"]


def test_dashboard_panel_ids_are_unique() -> None:
    ids = [panel["id"] for panel in dashboard()["panels"]]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("expr", dashboard_exprs())
def test_dashboard_uses_only_exported_metrics(expr: str) -> None:
    assert unknown_metric_names(expr, recorded_names()) == set()


def test_dashboard_shows_every_exported_metric() -> None:
    used = {
        name.removesuffix(suffix)
        for expr in dashboard_exprs()
        for name in METRIC_NAME.findall(expr)
        for suffix in ("", *HISTOGRAM_SUFFIXES)
    }
    assert EXPORTED_METRICS - used == set()


def test_grafana_provisioning_points_at_dashboards() -> None:
    provider = load_yaml(GRAFANA_PROVISIONING / "dashboards" / "invoice-sync.yml")["providers"][0]
    assert provider["type"] == "file"
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards"
    datasources = load_yaml(GRAFANA_PROVISIONING / "datasources" / "prometheus.yml")
    assert datasources["datasources"][0]["type"] == "prometheus"
