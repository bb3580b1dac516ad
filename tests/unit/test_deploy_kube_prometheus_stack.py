"""The chart's kube-prometheus-stack objects: PrometheusRule, dashboard, AlertmanagerConfig.

Rendered with helm and checked with the real tools: promtool (the rules as the chart renders them
for one namespace), kubeconform -strict, crd-check (the operator's Go types, unknown fields
rejected) and validate-crds.mjs (the CRDs' OpenAPI schemas).
"""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.unit.deploy_tools import (
    CHART_DIR,
    ROOT,
    by_kind_list,
    deploy_share,
    helm_template,
    kubeconform_args,
    objects_of,
    one,
    run,
    run_failing,
    tool,
)

KPS_VALUES = CHART_DIR / "ci" / "kube-prometheus-stack-values.yaml"
RULES_FILE = ROOT / "deploy" / "prometheus" / "rules" / "invoice-sync.rules.yml"
RENDER_RULES = ROOT / "scripts" / "render-rules.py"
DASHBOARD_FILE = ROOT / "deploy" / "grafana" / "dashboards" / "invoice-sync.json"
VALIDATE_CRDS = ROOT / "deploy" / "helm" / "tools" / "validate-crds.mjs"
RELEASE_JOB = "inv-invoice-sync"  # the Service's name for release "inv": the ServiceMonitor's job
SEVERITIES = ("critical", "warning", "info")

AGGREGATION = re.compile(r"\b(?:sum|max|min|count|avg) by \(([^)]*)\)")
SELECTOR = re.compile(r"\b([a-z_:]+)\{([^}]*)\}")


@pytest.fixture(scope="module")
def kps() -> list[dict[str, Any]]:
    return objects_of(helm_template("--values", str(KPS_VALUES)))


def groups_of(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    groups: list[dict[str, Any]] = one(objects, "PrometheusRule")["spec"]["groups"]
    return groups


def rules_of(groups: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [rule for group in groups for rule in group["rules"]]


# --- one source for the rules -----------------------------------------------------------------


def render_rules(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(RENDER_RULES), *args],
        capture_output=True, text=True, timeout=120, check=False,
        env={"HELM": tool("helm"), "PATH": "/usr/bin:/bin"},
    )


def test_rules_file_is_the_chart_template_rendered() -> None:
    done = render_rules("--check")
    assert done.returncode == 0, done.stdout + done.stderr


def test_render_check_fails_on_a_hand_edited_rules_file(tmp_path: Path) -> None:
    edited = tmp_path / "invoice-sync.rules.yml"
    text = RULES_FILE.read_text()
    assert "for: 10m" in text
    edited.write_text(text.replace("for: 10m", "for: 20m", 1))
    done = render_rules("--check", "--output", str(edited))
    assert done.returncode == 1
    assert "-        for: 20m" in done.stdout and "make rules" in done.stderr


@pytest.mark.parametrize("source", ["rules file", "chart"])
def test_every_aggregation_keeps_namespace_and_job(
    source: str, kps: list[dict[str, Any]]
) -> None:
    groups = (
        yaml.safe_load(RULES_FILE.read_text())["groups"] if source == "rules file"
        else groups_of(kps)
    )
    exprs = [rule["expr"] for rule in rules_of(groups)]
    aggregations = [set(re.split(r",\s*", by)) for e in exprs for by in AGGREGATION.findall(e)]
    assert len(aggregations) >= 10
    for labels in aggregations:
        assert {"namespace", "job"} <= labels, labels
    # Every selector reads one release's series only.
    job = "invoice-sync" if source == "rules file" else RELEASE_JOB
    selectors = [m for e in exprs for m in SELECTOR.findall(e)]
    assert len(selectors) >= 15
    for name, matchers in selectors:
        assert f'job="{job}"' in matchers, (name, matchers)
        assert ('namespace="billing"' in matchers) == (source == "chart"), (name, matchers)


# --- the chart's PrometheusRule: values in, rules out ----------------------------------------


def test_values_set_for_thresholds_labels_and_runbook(kps: list[dict[str, Any]]) -> None:
    alerts = {r["alert"]: r for r in rules_of(groups_of(kps)) if "alert" in r}
    assert len(alerts) == 10
    lag = alerts["InvoiceSyncConsumerLagHigh"]
    assert lag["for"] == "30m"
    assert lag["expr"].endswith("> 50000")
    assert "more than 50000 messages" in lag["annotations"]["description"]
    base = yaml.safe_load(KPS_VALUES.read_text())["prometheusRule"]["runbookBaseUrl"]
    for name, rule in alerts.items():
        assert rule["labels"]["team"] == "finance-platform", name
        assert rule["annotations"]["runbook_url"] == f"{base}#{name.lower()}"


def test_an_alert_set_to_null_is_left_out() -> None:
    manifest = helm_template(
        "--set", "prometheusRule.enabled=true",
        "--set", "prometheusRule.alerts.latencyP95High=null",
    )
    names = {r.get("alert") for r in rules_of(groups_of(objects_of(manifest)))}
    assert "InvoiceSyncLatencyP95High" not in names
    assert "InvoiceSyncPipelineDown" in names


@pytest.mark.parametrize(
    ("setting", "named"),
    [
        ("prometheusRule.alerts.pipelineDown.for=30s", "for"),
        ("prometheusRule.alerts.pipelineDown.severity=page", "severity"),
        ("prometheusRule.alerts.consumerLagHigh.lag=5", "lag"),
        ("prometheusRule.alertLabels.severity=high", "severity"),
    ],
)
def test_values_schema_rejects_bad_rule_values(setting: str, named: str) -> None:
    output = run_failing([tool("helm"), "template", "inv", str(CHART_DIR), "--set", setting])
    assert named in output


def test_chart_rules_pass_promtool_scoped_to_their_namespace(
    kps: list[dict[str, Any]], tmp_path: Path
) -> None:
    """The rules as the chart renders them, for namespace billing, with the example's values."""
    (tmp_path / "rules.yml").write_text(yaml.safe_dump({"groups": groups_of(kps)}))
    billing = f'namespace="billing", job="{RELEASE_JOB}"'
    # The same release name in another namespace: another deployment this one must not read.
    sales = f'namespace="sales", job="{RELEASE_JOB}"'
    lag = "invoice_sync_consumer_lag_messages"
    unit_tests = {
        "rule_files": ["rules.yml"],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [
                    {"series": f'{lag}{{{billing}, instance="inv-invoice-sync-0", topic="t"}}',
                     "values": "30000x60"},
                    {"series": f'{lag}{{{billing}, instance="inv-invoice-sync-1", topic="t"}}',
                     "values": "30000x60"},
                    {"series": f'{lag}{{{sales}, instance="inv-invoice-sync-0", topic="t"}}',
                     "values": "90000x60"},
                    # Only the other namespace is scraped: this release's workers are absent.
                    {"series": f'up{{{sales}, instance="inv-invoice-sync-0"}}', "values": "1x60"},
                ],
                "alert_rule_test": [
                    # for: 30m from the values
                    {"eval_time": "20m", "alertname": "InvoiceSyncConsumerLagHigh",
                     "exp_alerts": []},
                    {"eval_time": "40m", "alertname": "InvoiceSyncConsumerLagHigh",
                     "exp_alerts": [{
                         "exp_labels": {"severity": "warning", "condition": "consumer_lag",
                                        "team": "finance-platform", "namespace": "billing",
                                        "job": RELEASE_JOB, "topic": "t"},
                         "exp_annotations": {
                             "summary": "Consumer lag on t is 60000 messages",
                             "description": (
                                 "The workers have been more than 50000 messages behind on "
                                 "topic t (summed over workers) for 30m: they cannot keep up "
                                 "(peak load, slow state store, too few workers for the "
                                 "partitions) or one is stuck. Alerts are delayed, not lost."),
                             "runbook_url": "https://git.example.com/platform/invoice-sync/"
                                            "blob/v0.2.0/docs/runbook.md#invoicesyncconsumerlaghigh",
                         },
                     }]},
                    {"eval_time": "10m", "alertname": "InvoiceSyncPipelineDown",
                     "exp_alerts": [{
                         "exp_labels": {"severity": "critical", "condition": "pipeline",
                                        "team": "finance-platform", "namespace": "billing",
                                        "job": RELEASE_JOB},
                         "exp_annotations": {
                             "summary": "no invoice-sync worker is being scraped",
                             "description": (
                                 "For 5m Prometheus has had no invoice-sync scrape target at all "
                                 "(absent(up)). A down worker's partitions move to the other "
                                 "workers only after the consumer group rebalances; while no "
                                 "worker runs, no invoice is checked and no alert about an "
                                 "invoice is raised."),
                             "runbook_url": "https://git.example.com/platform/invoice-sync/"
                                            "blob/v0.2.0/docs/runbook.md#invoicesyncpipelinedown",
                         },
                     }]},
                ],
            }
        ],
    }
    (tmp_path / "rules.test.yml").write_text(yaml.safe_dump(unit_tests, allow_unicode=True))
    output = run([tool("promtool"), "test", "rules", "rules.test.yml"], cwd=tmp_path)
    assert "SUCCESS" in output


# --- validation of the kube-prometheus-stack objects ----------------------------------------


def test_kubeconform_strict_accepts_the_kube_prometheus_stack_variant() -> None:
    manifest = helm_template("--values", str(KPS_VALUES))
    report = json.loads(run([*kubeconform_args(), "-verbose", "-"], stdin=manifest))
    statuses = {(r["kind"], r["status"]) for r in report["resources"]}
    assert ("ConfigMap", "statusValid") in statuses
    assert report["summary"]["invalid"] == report["summary"]["errors"] == 0


def test_prometheus_operator_objects_decode_strictly(kps: list[dict[str, Any]]) -> None:
    assert "3 prometheus-operator object(s)" in run([tool("crd-check")],
                                                    stdin=yaml.safe_dump_all(kps))
    # Case-sensitive like the API server: encoding/json alone would take "groupby" for groupBy.
    broken = copy.deepcopy(kps)
    one(broken, "AlertmanagerConfig")["spec"]["route"]["groupby"] = ["alertname"]
    assert "groupby" in run_failing([tool("crd-check")], stdin=yaml.safe_dump_all(broken))
    # Child routes are raw JSON in the CRD; crd-check decodes them as the operator will.
    broken = copy.deepcopy(kps)
    one(broken, "AlertmanagerConfig")["spec"]["route"]["routes"][1]["groupwait"] = "1m"
    output = run_failing([tool("crd-check")], stdin=yaml.safe_dump_all(broken))
    assert "spec.route.routes[1]" in output and "groupwait" in output


def test_prometheus_operator_objects_match_the_crd_schemas(kps: list[dict[str, Any]]) -> None:
    node = [tool("node"), str(VALIDATE_CRDS), str(deploy_share("npm"))]
    assert "3 object(s) checked, 0 invalid" in run(node, stdin=json.dumps(kps))
    broken = copy.deepcopy(kps)
    route = one(broken, "AlertmanagerConfig")["spec"]["route"]["routes"][0]
    route["matchers"][0]["matchType"] = "~="
    assert "spec.route.routes[0]/matchers/0/matchType" in run_failing(
        node, stdin=json.dumps(broken))


# --- the dashboard ConfigMap ------------------------------------------------------------------


def test_dashboard_config_map_is_labelled_for_the_grafana_sidecar(
    kps: list[dict[str, Any]],
) -> None:
    [config_map] = [c for c in by_kind_list(kps, "ConfigMap")
                    if c["metadata"]["name"].endswith("-dashboard")]
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert config_map["metadata"]["namespace"] == "billing"
    assert config_map["metadata"]["annotations"] == {"grafana_folder": "invoice-sync"}
    dashboard = json.loads(config_map["data"]["invoice-sync.json"])
    assert dashboard == json.loads(DASHBOARD_FILE.read_text())
    assert dashboard["uid"] == "invoice-sync"


def test_dashboard_can_go_to_grafanas_namespace() -> None:
    manifest = helm_template(
        "--set", "grafanaDashboard.enabled=true", "--set", "grafanaDashboard.namespace=monitoring"
    )
    assert one(objects_of(manifest), "ConfigMap")["metadata"]["namespace"] == "monitoring"


# --- the AlertmanagerConfig -------------------------------------------------------------------


def test_alertmanager_config_routes_this_release_by_severity(kps: list[dict[str, Any]]) -> None:
    spec = one(kps, "AlertmanagerConfig")["spec"]
    route = spec["route"]
    job = {"name": "job", "value": RELEASE_JOB, "matchType": "="}
    assert route["matchers"] == [job]
    assert route["groupBy"] == ["alertname", "region_code"]
    assert route["receiver"] == "ops-webhook"
    by_severity = {r["matchers"][0]["value"]: r["receiver"] for r in route["routes"]}
    # info: null in the example -> no route of its own, the default receiver takes it.
    assert by_severity == {"critical": "wecom", "warning": "wecom-robot"}
    receivers = {r["name"]: r for r in spec["receivers"]}
    assert set(receivers) == {"wecom", "wecom-robot", "ops-webhook"}
    assert receivers["wecom"]["wechatConfigs"][0]["apiSecret"]["name"] == "invoice-sync-wecom"
    assert "urlSecret" in receivers["wecom-robot"]["webhookConfigs"][0]
    # Critical inhibits warning only within this release.
    [by_severity_rule] = [r for r in spec["inhibitRules"]
                          if {"name": "severity", "value": "critical", "matchType": "="}
                          in r["sourceMatch"]]
    assert job in by_severity_rule["sourceMatch"] and job in by_severity_rule["targetMatch"]
    assert by_severity_rule["equal"] == ["condition", "region_code"]


def test_alertmanager_config_matches_the_alerts_job(kps: list[dict[str, Any]]) -> None:
    [service] = [s for s in by_kind_list(kps, "Service") if s["spec"].get("clusterIP") != "None"]
    assert service["metadata"]["name"] == RELEASE_JOB
    for rule in rules_of(groups_of(kps)):
        if "alert" in rule:
            assert f'job="{RELEASE_JOB}"' in rule["expr"], rule["alert"]


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("alertmanagerConfig.severityRoutes.critical.receiver=pager",
         'severityRoutes.critical.receiver "pager" is not one of'),
        ("alertmanagerConfig.defaultReceiver=nobody", 'defaultReceiver "nobody" is not one of'),
    ],
)
def test_a_route_to_an_undefined_receiver_is_refused(setting: str, message: str) -> None:
    output = run_failing([tool("helm"), "template", "inv", str(CHART_DIR),
                          "--values", str(KPS_VALUES), "--set", setting])
    assert message in output


def test_alertmanager_config_needs_receivers() -> None:
    output = run_failing([tool("helm"), "template", "inv", str(CHART_DIR),
                          "--set", "alertmanagerConfig.enabled=true"])
    assert "alertmanagerConfig.receivers" in output


@pytest.mark.parametrize("severity", SEVERITIES)
def test_every_severity_the_rules_use_has_a_default_route(severity: str) -> None:
    values = yaml.safe_load((CHART_DIR / "values.yaml").read_text())
    assert values["alertmanagerConfig"]["severityRoutes"][severity]["receiver"]


# --- the AlertmanagerConfig as Alertmanager would run it: amtool ------------------------------


def snake(name: str) -> str:
    """AlertmanagerConfig field names to alertmanager.yml's: apiURL -> api_url."""
    return re.sub(r"(?<=[a-z])(?=[A-Z])", "_", name).lower()


def receiver_config(spec: dict[str, Any]) -> dict[str, Any]:
    """A receiver's notifier configs in alertmanager.yml form, Secrets replaced by stand-ins."""
    converted: dict[str, Any] = {}
    for key, value in spec.items():
        if key == "urlSecret":
            converted["url"] = "http://adapter.example:8080/send"
        elif key.endswith("Secret"):
            converted[snake(key)] = "stand-in-secret"
        else:
            converted[snake(key)] = value
    return converted


def matcher(m: dict[str, str]) -> str:
    return f'{m["name"]}{m.get("matchType", "=")}"{m["value"]}"'


def as_alertmanager_yml(config: dict[str, Any], namespace: str) -> dict[str, Any]:
    """What the Prometheus Operator generates from one namespaced AlertmanagerConfig: names
    prefixed <namespace>/<name>/, a namespace matcher on the route and on both sides of each
    inhibit rule, under a root route whose receiver takes nothing of ours."""
    prefix = f"{namespace}/{config['metadata']['name']}/"
    spec = config["spec"]
    ns = f'namespace="{namespace}"'

    def route(r: dict[str, Any], top: bool) -> dict[str, Any]:
        out: dict[str, Any] = {"receiver": prefix + r["receiver"]}
        out["matchers"] = ([ns] if top else []) + [matcher(m) for m in r.get("matchers", [])]
        for key in ("groupBy", "groupWait", "groupInterval", "repeatInterval"):
            if key in r:
                out[snake(key)] = r[key]
        if r.get("routes"):
            out["routes"] = [route(child, False) for child in r["routes"]]
        return out

    receivers = [{"name": "null"}] + [
        {"name": prefix + r["name"],
         **{snake(kind): [receiver_config(c) for c in configs]
            for kind, configs in r.items() if kind != "name"}}
        for r in spec["receivers"]
    ]
    inhibit = [
        {"source_matchers": [ns] + [matcher(m) for m in rule["sourceMatch"]],
         "target_matchers": [ns] + [matcher(m) for m in rule["targetMatch"]],
         "equal": rule["equal"]}
        for rule in spec["inhibitRules"]
    ]
    return {"route": {"receiver": "null", "routes": [route(spec["route"], True)]},
            "receivers": receivers, "inhibit_rules": inhibit}


@pytest.fixture(scope="module")
def alertmanager_yml(kps: list[dict[str, Any]], tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("alertmanager") / "alertmanager.yml"
    path.write_text(yaml.safe_dump(as_alertmanager_yml(one(kps, "AlertmanagerConfig"), "billing"),
                                   allow_unicode=True))
    return path


def test_amtool_accepts_the_alertmanager_config(alertmanager_yml: Path) -> None:
    output = run([tool("amtool"), "check-config", str(alertmanager_yml)])
    # The receivers, with wechat_configs, and both inhibit rules are valid Alertmanager config.
    assert "SUCCESS" in output
    assert "4 receivers" in output and "2 inhibit rules" in output  # "null" + the example's 3


@pytest.mark.parametrize(
    ("labels", "receiver"),
    [
        ({"severity": "critical"}, "billing/inv-invoice-sync/wecom"),
        ({"severity": "warning"}, "billing/inv-invoice-sync/wecom-robot"),
        # info has no route of its own in the example: the default receiver.
        ({"severity": "info"}, "billing/inv-invoice-sync/ops-webhook"),
        # Another release's alerts, or another namespace's, are not ours.
        ({"severity": "critical", "job": "other-app"}, "null"),
        ({"severity": "critical", "namespace": "sales"}, "null"),
    ],
)
def test_amtool_routes_each_severity_to_its_receiver(
    alertmanager_yml: Path, labels: dict[str, str], receiver: str
) -> None:
    alert = {"alertname": "InvoiceSyncUnsyncedPastCritical", "namespace": "billing",
             "job": RELEASE_JOB, "region_code": "110000", **labels}
    output = run([tool("amtool"), "config", "routes", "test",
                  f"--config.file={alertmanager_yml}", f"--verify.receivers={receiver}",
                  *(f"{k}={v}" for k, v in alert.items())])
    assert output.strip() == receiver
