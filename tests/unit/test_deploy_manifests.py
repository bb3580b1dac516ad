"""Checks of the deployment: Dockerfile, compose.yaml and the Helm chart, with the real tools.

hadolint, check-jsonschema (compose-spec schema), compose-config-check (compose-go, the loader of
`docker compose config`), ShellCheck, helm, kubeconform (strict, Kubernetes JSON schemas from
kubernetes-validate), crd-check and validate-crds.mjs (prometheus-operator CRDs). All come from
scripts/install-deploy-tools.sh; a missing tool fails the test with that hint, never skips it.
"""

from __future__ import annotations

import copy
import importlib.util
import io
import json
import re
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from contextlib import redirect_stdout
from dataclasses import dataclass
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from pipeline.correlation.sla import SlaRules, Thresholds
from pipeline.settings import ENV_PREFIX, Settings, load_settings
from tests.unit.deploy_tools import (
    CHART_DIR,
    CRD_KINDS,
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

DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
COMPOSE_FILE = ROOT / "compose.yaml"
FULL_VALUES = CHART_DIR / "ci" / "sasl-monitoring-values.yaml"
RULES_FILE = ROOT / "deploy" / "prometheus" / "rules" / "invoice-sync.rules.yml"
RULES_VALUES = ROOT / "deploy" / "prometheus" / "rules.values.yaml"
DASHBOARD_FILE = ROOT / "deploy" / "grafana" / "dashboards" / "invoice-sync.json"
PROMETHEUS_CONFIG = ROOT / "deploy" / "prometheus" / "prometheus.yml"
ALERTMANAGER_CONFIG = ROOT / "deploy" / "alertmanager" / "alertmanager.yml"
ALERT_WEBHOOK = ROOT / "deploy" / "compose" / "alert_webhook.py"
VALIDATE_CRDS = ROOT / "deploy" / "helm" / "tools" / "validate-crds.mjs"
SHELL_SCRIPTS = (
    ROOT / "scripts" / "install-deploy-tools.sh",
    ROOT / "deploy" / "compose" / "create-topics.sh",
)

STATE_DIR = "/var/lib/invoice-sync"
WORKERS = ("worker-1", "worker-2")
SETTING_NAMES = frozenset(ENV_PREFIX + name.upper() for name in Settings.model_fields)


# --- Dockerfile -----------------------------------------------------------------------------------


def dockerfile_stages() -> list[list[str]]:
    """Instructions per build stage, continuation lines joined."""
    joined = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    stages: list[list[str]] = []
    for line in joined.splitlines():
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        if text.upper().startswith("FROM "):
            stages.append([])
        if stages:
            stages[-1].append(text)
    return stages


def test_hadolint_finds_nothing_in_the_dockerfile() -> None:
    run([tool("hadolint"), "--no-color", str(DOCKERFILE)])


def test_image_is_multi_stage_on_python_311_slim() -> None:
    stages = dockerfile_stages()
    assert len(stages) == 2, [s[0] for s in stages]
    assert "ARG PYTHON_IMAGE=python:3.11-slim" in DOCKERFILE.read_text()
    assert all(stage[0].startswith("FROM ${PYTHON_IMAGE}") for stage in stages)
    runtime = stages[-1]
    # Only the virtualenv comes over from the builder.
    copies = [i for i in runtime if i.startswith("COPY")]
    assert copies == ["COPY --from=builder /opt/invoice-sync /opt/invoice-sync"]


@pytest.mark.parametrize(
    "expected",
    [
        "USER 10001:10001",
        'VOLUME ["/var/lib/invoice-sync"]',
        "EXPOSE 6066",
        'ENTRYPOINT ["invoice-sync"]',
        'CMD ["worker"]',
        "STOPSIGNAL SIGTERM",
    ],
)
def test_runtime_stage_has(expected: str) -> None:
    assert expected in dockerfile_stages()[-1]


def test_runtime_stage_sets_the_state_dir_and_oci_labels() -> None:
    runtime = " ".join(dockerfile_stages()[-1])
    assert f"INVOICE_SYNC_DATA_DIR={STATE_DIR}" in runtime
    for label in ("title", "description", "version", "revision", "created", "licenses"):
        assert f"org.opencontainers.image.{label}=" in runtime


def test_healthcheck_probes_healthz_with_python() -> None:
    [check] = [i for i in dockerfile_stages()[-1] if i.startswith("HEALTHCHECK")]
    assert '"python", "-c"' in check
    assert "urllib.request" in check and "/healthz" in check


def test_dockerignore_lets_every_copied_path_through() -> None:
    patterns = [p for p in DOCKERIGNORE.read_text().splitlines() if p and not p.startswith("#")]
    assert patterns[0] == "*", "the context is allow-listed: start with '*'"
    allowed = {p.removeprefix("!").rstrip("/") for p in patterns if p.startswith("!")}
    builder = dockerfile_stages()[0]
    sources = [
        src.rstrip("/").removesuffix("*")
        for i in builder
        if i.startswith("COPY ") and "--from" not in i
        for src in i.split()[1:-1]
    ]
    assert sources, "the builder copies nothing from the context"
    assert set(sources) <= allowed, (
        f"copied but excluded by .dockerignore: {set(sources) - allowed}"
    )


# --- compose -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose_raw() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text())
    return loaded


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    """The project as `docker compose config` resolves it (merge keys applied, paths absolute)."""
    resolved: dict[str, Any] = json.loads(run([tool("compose-config-check"), str(COMPOSE_FILE)]))
    return resolved


def test_compose_file_matches_the_compose_spec_schema() -> None:
    run([tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec", str(COMPOSE_FILE)])


def test_compose_loader_rejects_an_undefined_dependency(tmp_path: Path) -> None:
    # The checker is real: the same file with a misspelt dependency fails to load.
    broken = COMPOSE_FILE.read_text().replace(
        "      alert-webhook:\n        condition: service_healthy",
        "      alert-hook:\n        condition: service_healthy",
    )
    assert broken != COMPOSE_FILE.read_text()
    (tmp_path / "compose.yaml").write_text(broken)
    output = run_failing([tool("compose-config-check"), str(tmp_path / "compose.yaml")])
    assert "alert-hook" in output


def test_compose_defines_the_whole_stack(compose: dict[str, Any]) -> None:
    assert set(compose["services"]) == {
        "kafka",
        "kafka-init",
        "check-config",
        *WORKERS,
        "prometheus",
        "alertmanager",
        "grafana",
        "alert-webhook",
    }


def test_kafka_is_a_pinned_41_kraft_node(compose: dict[str, Any]) -> None:
    kafka = compose["services"]["kafka"]
    assert re.fullmatch(r"apache/kafka:4\.1\.\d+", kafka["image"])
    assert compose["services"]["kafka-init"]["image"] == kafka["image"]
    assert kafka["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert "healthcheck" in kafka


def test_every_bind_mount_exists_in_the_repository(compose: dict[str, Any]) -> None:
    binds = [
        (name, Path(volume["source"]))
        for name, service in compose["services"].items()
        for volume in service.get("volumes", [])
        if volume["type"] == "bind"
    ]
    assert binds, "expected bind mounts (configs, scripts)"
    for name, source in binds:
        assert source.is_relative_to(ROOT), f"{name} mounts {source}, outside the repository"
        assert source.exists(), f"{name} mounts {source.relative_to(ROOT)}, which does not exist"


@pytest.mark.parametrize("worker", WORKERS)
def test_worker_dependencies_are_defined_and_gated(compose: dict[str, Any], worker: str) -> None:
    depends = compose["services"][worker]["depends_on"]
    assert set(depends) <= set(compose["services"])
    assert depends["kafka"]["condition"] == "service_healthy"
    assert depends["kafka-init"]["condition"] == "service_completed_successfully"
    assert depends["check-config"]["condition"] == "service_completed_successfully"


def test_check_config_runs_first_with_the_workers_settings(compose: dict[str, Any]) -> None:
    services = compose["services"]
    check = services["check-config"]
    assert check["command"] == ["check-config"]
    assert check["image"] == services[WORKERS[0]]["image"]
    assert not check.get("depends_on"), "offline: it needs no broker"
    per_worker = {"INVOICE_SYNC_INSTANCE_ID", "INVOICE_SYNC_ADVERTISED_URL"}
    for worker in WORKERS:
        shared = {k: v for k, v in services[worker]["environment"].items() if k not in per_worker}
        assert shared.items() <= check["environment"].items(), worker
        assert check.get("secrets") == services[worker].get("secrets")


@pytest.mark.parametrize("worker", WORKERS)
def test_worker_environment_names_are_settings(compose: dict[str, Any], worker: str) -> None:
    env = compose["services"][worker]["environment"]
    assert all(key.startswith(ENV_PREFIX) for key in env), sorted(env)
    assert set(env) <= SETTING_NAMES, f"not a setting: {sorted(set(env) - SETTING_NAMES)}"


@pytest.mark.parametrize("worker", WORKERS)
def test_worker_environment_passes_settings_validation(
    compose: dict[str, Any], worker: str
) -> None:
    env = compose["services"][worker]["environment"]
    settings = load_settings(**{k.removeprefix(ENV_PREFIX).lower(): v for k, v in env.items()})
    assert settings.instance_id == worker
    assert str(settings.data_dir) == STATE_DIR


def test_workers_have_their_own_identity_and_state(compose: dict[str, Any]) -> None:
    services = compose["services"]
    ids = {services[w]["environment"]["INVOICE_SYNC_INSTANCE_ID"] for w in WORKERS}
    states = {
        v["source"]
        for w in WORKERS
        for v in services[w]["volumes"]
        if v["type"] == "volume" and v["target"] == STATE_DIR
    }
    assert len(ids) == len(WORKERS)
    assert len(states) == len(WORKERS)
    assert states <= set(compose["volumes"])
    for w in WORKERS:
        assert services[w]["build"]["dockerfile"].endswith("Dockerfile")
        assert services[w]["healthcheck"]["test"][0] == "CMD"


def test_topic_init_creates_every_worker_topic(compose: dict[str, Any]) -> None:
    init_env = compose["services"]["kafka-init"]["environment"]
    created = set(init_env["TOPICS"].split())
    for worker in WORKERS:
        env = compose["services"][worker]["environment"]
        topics = {v for k, v in env.items() if k.startswith(ENV_PREFIX + "TOPIC_")}
        assert topics <= created, f"{worker} uses topics nobody creates: {topics - created}"
        assert env["INVOICE_SYNC_PARTITIONS"] == init_env["PARTITIONS"] == "6"


def test_compose_services_have_healthchecks_for_their_dependents(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name, service in services.items():
        for dependency, gate in service.get("depends_on", {}).items():
            if gate["condition"] == "service_healthy":
                assert "healthcheck" in services[dependency], f"{name} waits on {dependency}"


def test_prometheus_scrapes_the_compose_workers(compose: dict[str, Any]) -> None:
    config = yaml.safe_load(PROMETHEUS_CONFIG.read_text())
    targets = {
        target
        for job in config["scrape_configs"]
        if job["job_name"] == "invoice-sync"
        for static in job["static_configs"]
        for target in static["targets"]
    }
    port = compose["services"]["worker-1"]["environment"]["INVOICE_SYNC_WEB_PORT"]
    assert targets == {f"{w}:{port}" for w in WORKERS}


def test_alertmanager_posts_to_the_webhook_service(compose: dict[str, Any]) -> None:
    config = yaml.safe_load(ALERTMANAGER_CONFIG.read_text())
    urls = [
        hook["url"]
        for receiver in config["receivers"]
        for hook in receiver.get("webhook_configs", [])
    ]
    assert urls, "no webhook receiver in alertmanager.yml"
    webhook = compose["services"]["alert-webhook"]
    for url in urls:
        parts = urlsplit(url)
        assert parts.hostname == "alert-webhook"
        assert str(parts.port) == webhook["environment"]["ALERT_WEBHOOK_PORT"]


def test_shell_scripts_pass_shellcheck() -> None:
    run([tool("shellcheck"), *map(str, SHELL_SCRIPTS)])


@pytest.fixture
def alert_webhook() -> Iterator[str]:
    """The compose webhook receiver on a loopback port; yields its base URL."""
    spec = importlib.util.spec_from_file_location("alert_webhook", ALERT_WEBHOOK)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    server = ThreadingHTTPServer(("127.0.0.1", 0), module.AlertLogHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_alert_webhook_logs_each_posted_body(alert_webhook: str) -> None:
    payload = {"version": "4", "status": "firing", "alerts": [{"labels": {"alertname": "X"}}]}
    request = urllib.request.Request(
        f"{alert_webhook}/alerts",
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    out = io.StringIO()
    with redirect_stdout(out), urllib.request.urlopen(request, timeout=5) as response:
        assert response.status == 200
    assert json.loads(out.getvalue()) == {"path": "/alerts", "body": payload}
    with urllib.request.urlopen(f"{alert_webhook}/healthz", timeout=5) as health:
        assert health.status == 200


# --- Helm chart ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Variant:
    """One set of values the chart is rendered and validated with."""

    name: str
    args: tuple[str, ...]


DEFAULTS = Variant("defaults", ())
FULL = Variant("sasl-tls-monitoring", ("--values", str(FULL_VALUES)))
VARIANTS = (DEFAULTS, FULL)


@pytest.fixture(scope="module", params=VARIANTS, ids=lambda v: v.name)
def rendered(request: pytest.FixtureRequest) -> tuple[Variant, str]:
    variant: Variant = request.param
    return variant, helm_template(*variant.args)


@pytest.fixture(scope="module")
def full() -> list[dict[str, Any]]:
    return objects_of(helm_template(*FULL.args))


@pytest.fixture(scope="module")
def defaults() -> list[dict[str, Any]]:
    return objects_of(helm_template())


def worker_container(objects: list[dict[str, Any]]) -> dict[str, Any]:
    containers: list[dict[str, Any]] = one(objects, "StatefulSet")["spec"]["template"]["spec"][
        "containers"
    ]
    [container] = containers
    return container


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: v.name)
def test_helm_lint_strict(variant: Variant) -> None:
    run([tool("helm"), "lint", "--strict", str(CHART_DIR), *variant.args])


def test_kubeconform_strict_accepts_the_rendered_chart(rendered: tuple[Variant, str]) -> None:
    variant, manifest = rendered
    report = json.loads(run([*kubeconform_args(), "-verbose", "-"], stdin=manifest))
    statuses = {(r["kind"], r["name"]): r["status"] for r in report["resources"]}
    skipped = {kind for (kind, _), status in statuses.items() if status == "statusSkipped"}
    assert skipped <= set(CRD_KINDS), variant.name
    valid = {kind for (kind, _), status in statuses.items() if status == "statusValid"}
    assert {"StatefulSet", "Service", "PodDisruptionBudget", "ServiceAccount"} <= valid
    assert report["summary"]["valid"] == len(objects_of(manifest)) - len(skipped & set(CRD_KINDS))


def test_kubeconform_rejects_an_unknown_field(defaults: list[dict[str, Any]]) -> None:
    # The schemas are strict and wired: an unknown container field fails validation.
    statefulset = copy.deepcopy(one(defaults, "StatefulSet"))
    statefulset["spec"]["template"]["spec"]["containers"][0]["livenesProbe"] = {}
    output = run_failing([*kubeconform_args(), "-"], stdin=yaml.safe_dump(statefulset))
    assert "livenesProbe" in output


def test_crds_decode_strictly_into_prometheus_operator_types(full: list[dict[str, Any]]) -> None:
    manifest = yaml.safe_dump_all(full)
    assert "2 prometheus-operator object(s)" in run([tool("crd-check")], stdin=manifest)
    broken = copy.deepcopy(full)
    one(broken, "ServiceMonitor")["spec"]["endpoints"][0]["intervall"] = "30s"
    assert "intervall" in run_failing([tool("crd-check")], stdin=yaml.safe_dump_all(broken))


def test_crds_match_the_crd_schemas(full: list[dict[str, Any]]) -> None:
    node = [tool("node"), str(VALIDATE_CRDS), str(deploy_share("npm"))]
    assert "2 object(s) checked, 0 invalid" in run(node, stdin=json.dumps(full))
    broken = copy.deepcopy(full)
    one(broken, "PrometheusRule")["spec"]["groups"][0]["interval"] = "five minutes"
    assert "interval" in run_failing(node, stdin=json.dumps(broken))


def test_every_object_carries_the_recommended_labels(rendered: tuple[Variant, str]) -> None:
    _, manifest = rendered
    for obj in objects_of(manifest):
        labels = obj["metadata"]["labels"]
        for key in ("name", "instance", "version", "component", "part-of", "managed-by"):
            assert f"app.kubernetes.io/{key}" in labels, (obj["kind"], key)


def test_statefulset_keeps_identity_and_state(defaults: list[dict[str, Any]]) -> None:
    statefulset = one(defaults, "StatefulSet")
    spec = statefulset["spec"]
    assert spec["podManagementPolicy"] == "Parallel"
    headless = [
        s for s in by_kind_list(defaults, "Service") if s["spec"].get("clusterIP") == "None"
    ]
    assert [s["metadata"]["name"] for s in headless] == [spec["serviceName"]]
    [claim] = spec["volumeClaimTemplates"]
    mounts = {m["name"]: m["mountPath"] for m in worker_container(defaults)["volumeMounts"]}
    assert mounts[claim["metadata"]["name"]] == STATE_DIR
    env = {e["name"]: e for e in worker_container(defaults)["env"]}
    assert env["INVOICE_SYNC_DATA_DIR"]["value"] == STATE_DIR
    assert env["INVOICE_SYNC_INSTANCE_ID"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"


def test_probes_and_shutdown(defaults: list[dict[str, Any]]) -> None:
    pod = one(defaults, "StatefulSet")["spec"]["template"]["spec"]
    container = worker_container(defaults)
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    startup = container["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 15 * 60
    # The worker drains for up to 60 s after SIGTERM.
    assert pod["terminationGracePeriodSeconds"] == 90


def test_worker_runs_unprivileged_on_a_read_only_root(defaults: list[dict[str, Any]]) -> None:
    pod = one(defaults, "StatefulSet")["spec"]["template"]["spec"]
    container = worker_container(defaults)
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 10001
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
    assert {m["mountPath"] for m in container["volumeMounts"]} >= {STATE_DIR, "/tmp"}
    assert "memory" in container["resources"]["limits"]


def test_pod_disruption_budget_allows_one_at_a_time(defaults: list[dict[str, Any]]) -> None:
    pdb = one(defaults, "PodDisruptionBudget")
    assert pdb["spec"]["maxUnavailable"] == 1
    selector = one(defaults, "StatefulSet")["spec"]["selector"]["matchLabels"]
    assert pdb["spec"]["selector"]["matchLabels"] == selector


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: v.name)
def test_worker_environment_names_are_settings_in_the_chart(variant: Variant) -> None:
    names = {e["name"] for e in worker_container(objects_of(helm_template(*variant.args)))["env"]}
    assert names <= SETTING_NAMES, f"not a setting: {sorted(names - SETTING_NAMES)}"


def test_sasl_credentials_come_from_an_existing_secret(full: list[dict[str, Any]]) -> None:
    env = {e["name"]: e for e in worker_container(full)["env"]}
    assert env["INVOICE_SYNC_SECURITY_PROTOCOL"]["value"] == "SASL_SSL"
    for name in ("INVOICE_SYNC_SASL_USERNAME", "INVOICE_SYNC_SASL_PASSWORD"):
        assert "value" not in env[name]
        assert env[name]["valueFrom"]["secretKeyRef"]["name"] == "invoice-sync-kafka"
    assert not by_kind_list(full, "Secret"), "the chart must not create the credentials Secret"
    tls_mount = {m["name"]: m for m in worker_container(full)["volumeMounts"]}["kafka-tls"]
    assert env["INVOICE_SYNC_SSL_CAFILE"]["value"].startswith(tls_mount["mountPath"] + "/")


def test_sasl_without_an_existing_secret_is_refused() -> None:
    output = run_failing(
        [
            tool("helm"),
            "template",
            "inv",
            str(CHART_DIR),
            "--set",
            "kafka.securityProtocol=SASL_SSL",
        ]
    )
    assert "kafka.sasl.existingSecret" in output


def test_values_schema_rejects_a_misspelt_key() -> None:
    output = run_failing(
        [tool("helm"), "template", "inv", str(CHART_DIR), "--set", "kafka.partitons=3"]
    )
    assert "partitons" in output


def test_sla_rules_config_map_is_a_file_the_worker_loads(
    full: list[dict[str, Any]], tmp_path: Path
) -> None:
    config_map = one(full, "ConfigMap")
    path = tmp_path / "sla-rules.yaml"
    path.write_text(config_map["data"]["sla-rules.yaml"])
    rules = SlaRules.load(path, Thresholds(warn_after=900.0, critical_after=14400.0))
    assert rules.for_invoice("110000", "erp-a") == Thresholds(300.0, 3600.0)
    env = {e["name"]: e for e in worker_container(full)["env"]}
    mounts = {m["name"]: m["mountPath"] for m in worker_container(full)["volumeMounts"]}
    assert env["INVOICE_SYNC_SLA_RULES"]["value"] == f"{mounts['sla-rules']}/sla-rules.yaml"


def test_values_schema_holds_the_sla_rules_schema() -> None:
    # The worker's own model of the file, exported to schemas/, is what `helm install` checks.
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "chart-values-schema.py"), "--check"],
        capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize(
    ("setting", "named"),
    [
        ("slaRules.rules[0].warn_afte=5m", "warn_afte"),
        ("slaRules.rules[0].warn_after=soon", "warn_after"),
        ("slaRules.default.critical_after=-1", "critical_after"),
    ],
)
def test_values_schema_refuses_sla_rules_the_worker_would(setting: str, named: str) -> None:
    output = run_failing([tool("helm"), "template", "inv", str(CHART_DIR), "--set", setting])
    assert named in output and "slaRules" in output


def test_service_monitor_scrapes_the_http_service_job_named_after_it(
    full: list[dict[str, Any]],
) -> None:
    monitor = one(full, "ServiceMonitor")["spec"]
    selector = monitor["selector"]["matchLabels"]
    matched = [
        s
        for s in by_kind_list(full, "Service")
        if selector.items() <= s["metadata"]["labels"].items()
    ]
    assert [s["spec"].get("clusterIP") for s in matched] == [None], "exactly the non-headless one"
    [endpoint] = monitor["endpoints"]
    assert endpoint["port"] in {p["name"] for p in matched[0]["spec"]["ports"]}
    assert endpoint["path"] == "/metrics"
    # No jobLabel: job is the Service's name, which every rule of the release selects on.
    assert "jobLabel" not in monitor
    job = matched[0]["metadata"]["name"]
    rules = yaml.safe_dump(one(full, "PrometheusRule")["spec"])
    assert f'job="{job}"' in rules and 'namespace="billing"' in rules


def test_prometheus_rule_renders_the_compose_rules_file() -> None:
    # One template: the chart with the rules file's values gives the rules file.
    manifest = helm_template(
        "--values", str(RULES_VALUES), "--show-only", "templates/prometheusrule.yaml",
        release="invoice-sync",
    )
    rendered = one(objects_of(manifest), "PrometheusRule")["spec"]["groups"]
    assert rendered == yaml.safe_load(RULES_FILE.read_text())["groups"]


def test_monitoring_objects_are_opt_in(defaults: list[dict[str, Any]]) -> None:
    kinds = {o["kind"] for o in defaults}
    assert not kinds & set(CRD_KINDS)
    assert "ConfigMap" not in kinds, "no SLA rules given, no ConfigMap"


def test_packaged_chart_carries_the_rules_and_the_dashboard(tmp_path: Path) -> None:
    # `helm package` resolves the files/ symlink: the published chart has the same dashboard.
    run([tool("helm"), "package", str(CHART_DIR), "--destination", str(tmp_path)])
    [archive] = tmp_path.glob("invoice-sync-*.tgz")
    manifest = run(
        [tool("helm"), "template", "invoice-sync", str(archive), "--values", str(RULES_VALUES),
         "--set", "grafanaDashboard.enabled=true"]
    )
    rule = one(objects_of(manifest), "PrometheusRule")
    assert rule["spec"]["groups"] == yaml.safe_load(RULES_FILE.read_text())["groups"]
    dashboard = one(objects_of(manifest), "ConfigMap")["data"]["invoice-sync.json"]
    assert json.loads(dashboard) == json.loads(DASHBOARD_FILE.read_text())


def test_each_pod_advertises_its_dns_name_on_the_headless_service(
        defaults: list[dict[str, Any]]) -> None:
    """The operator API routes lookups and fans /pending out to these URLs."""
    env = {e["name"]: e for e in worker_container(defaults)["env"]}
    names = [e["name"] for e in worker_container(defaults)["env"]]
    headless = [s for s in by_kind_list(defaults, "Service")
                if s["spec"].get("clusterIP") == "None"]
    assert len(headless) == 1 and headless[0]["spec"]["publishNotReadyAddresses"] is True
    statefulset = one(defaults, "StatefulSet")
    assert statefulset["spec"]["serviceName"] == headless[0]["metadata"]["name"]
    port = worker_container(defaults)["ports"][0]["containerPort"]
    assert env["INVOICE_SYNC_ADVERTISED_URL"]["value"] == (
        f"http://$(INVOICE_SYNC_INSTANCE_ID).{headless[0]['metadata']['name']}.billing.svc:{port}")
    # Kubernetes expands $(VAR) only from variables defined earlier in the list.
    assert names.index("INVOICE_SYNC_INSTANCE_ID") < names.index("INVOICE_SYNC_ADVERTISED_URL")
    assert env["INVOICE_SYNC_INSTANCE_ID"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"


def test_compose_workers_advertise_their_own_service_names(compose: dict[str, Any]) -> None:
    for name in ("worker-1", "worker-2"):
        service = compose["services"][name]
        assert service["environment"]["INVOICE_SYNC_ADVERTISED_URL"] == f"http://{name}:6066"
        assert service["hostname"] == name
