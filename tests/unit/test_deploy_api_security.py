"""The chart's side of a secured operator API: token Secret, NetworkPolicy, check-config init.

Rendered with helm, validated with kubeconform -strict; the token file the chart writes is read
back with the worker's own settings loader, so chart and worker cannot disagree on its format.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from pipeline.settings import load_api_tokens, load_settings
from tests.unit.deploy_tools import (
    CHART_DIR,
    by_kind_list,
    helm_template,
    kubeconform_args,
    objects_of,
    one,
    run,
    run_failing,
    tool,
)

FULL_VALUES = CHART_DIR / "ci" / "sasl-monitoring-values.yaml"
SELECTOR = {"app.kubernetes.io/name": "invoice-sync", "app.kubernetes.io/instance": "inv"}
TOKEN = "s3cr3t-t0ken-for-finance-bot"


@pytest.fixture(scope="module")
def full() -> list[dict[str, Any]]:
    return objects_of(helm_template("--values", str(FULL_VALUES)))


@pytest.fixture(scope="module")
def defaults() -> list[dict[str, Any]]:
    return objects_of(helm_template())


def pod_spec(objects: list[dict[str, Any]]) -> dict[str, Any]:
    spec: dict[str, Any] = one(objects, "StatefulSet")["spec"]["template"]["spec"]
    return spec


def container(objects: list[dict[str, Any]], name: str) -> dict[str, Any]:
    spec = pod_spec(objects)
    [found] = [c for c in spec.get("initContainers", []) + spec["containers"] if c["name"] == name]
    return found


def env_of(objects: list[dict[str, Any]], name: str = "worker") -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in container(objects, name)["env"]}


def token_file(objects: list[dict[str, Any]], tmp_path: Path) -> Path:
    """The chart's token Secret written where the worker reads it, relative to ``tmp_path``."""
    [secret] = by_kind_list(objects, "Secret")
    [(key, encoded)] = secret["data"].items()
    path = tmp_path / key
    path.write_bytes(base64.b64decode(encoded))
    return path


# --- API tokens -------------------------------------------------------------------------------


def test_default_is_a_generated_operator_token_the_worker_accepts(
    defaults: list[dict[str, Any]], tmp_path: Path
) -> None:
    env = env_of(defaults)
    assert env["INVOICE_SYNC_API_AUTH"]["value"] == "tokens"
    path = token_file(defaults, tmp_path)
    [line] = path.read_text().splitlines()
    name, role, token = line.split(":")
    assert (name, role, len(token)) == ("admin", "operator", 40)
    tokens = load_api_tokens(load_settings(api_tokens_file=str(path)))
    assert tokens is not None and len(tokens) == 1


def test_token_entries_from_values_become_the_token_file(tmp_path: Path) -> None:
    objects = objects_of(helm_template(
        "--set", "api.tokens.entries[0].name=finance-bot",
        "--set", "api.tokens.entries[0].role=read",
        "--set", f"api.tokens.entries[0].token={TOKEN}",
    ))
    path = token_file(objects, tmp_path)
    assert path.read_text() == f"finance-bot:read:{TOKEN}\n"
    tokens = load_api_tokens(load_settings(api_tokens_file=str(path)))
    assert tokens is not None and len(tokens) == 1
    # The file is where the worker is told to read it.
    mounts = {m["name"]: m["mountPath"] for m in container(objects, "worker")["volumeMounts"]}
    assert env_of(objects)["INVOICE_SYNC_API_TOKENS_FILE"]["value"] == (
        f"{mounts['api-tokens']}/{path.name}")


def test_an_existing_secret_is_mounted_not_created(full: list[dict[str, Any]]) -> None:
    assert not by_kind_list(full, "Secret")
    volumes = {v["name"]: v for v in pod_spec(full)["volumes"]}
    secret = volumes["api-tokens"]["secret"]
    assert secret["secretName"] == "invoice-sync-api-tokens"
    assert secret["items"] == [{"key": "tokens.yaml", "path": "tokens.yaml"}]
    mounts = {m["name"]: m for m in container(full, "worker")["volumeMounts"]}
    assert mounts["api-tokens"]["readOnly"] is True
    assert env_of(full)["INVOICE_SYNC_API_TOKENS_FILE"]["value"] == (
        f"{mounts['api-tokens']['mountPath']}/tokens.yaml")


def test_auth_disabled_mounts_no_tokens() -> None:
    objects = objects_of(helm_template("--set", "api.auth=disabled"))
    env = env_of(objects)
    assert env["INVOICE_SYNC_API_AUTH"]["value"] == "disabled"
    assert "INVOICE_SYNC_API_TOKENS_FILE" not in env
    assert not by_kind_list(objects, "Secret")
    assert "api-tokens" not in {v["name"] for v in pod_spec(objects)["volumes"]}


@pytest.mark.parametrize(
    ("setting", "named"),
    [
        ("api.tokens.entries[0].token=short", "token"),
        ("api.tokens.entries[0].role=admin", "role"),
        ("api.auth=basic", "auth"),
    ],
)
def test_values_schema_rejects_bad_tokens(setting: str, named: str) -> None:
    output = run_failing([
        tool("helm"), "template", "inv", str(CHART_DIR),
        "--set", "api.tokens.entries[0].name=bot", "--set", "api.tokens.entries[0].role=read",
        "--set", f"api.tokens.entries[0].token={TOKEN}", "--set", setting,
    ])
    assert named in output


# --- check-config init container and the actions topic --------------------------------------


@pytest.mark.parametrize("values", ["defaults", "full"])
def test_init_container_checks_the_workers_own_configuration(
    values: str, defaults: list[dict[str, Any]], full: list[dict[str, Any]]
) -> None:
    objects = defaults if values == "defaults" else full
    init = container(objects, "check-config")
    worker = container(objects, "worker")
    assert init["args"] == ["check-config"]
    assert init["image"] == worker["image"]
    assert init["env"] == worker["env"]
    config_mounts = [m for m in worker["volumeMounts"] if m["name"] not in ("state",)]
    assert init["volumeMounts"] == config_mounts
    assert init["securityContext"] == worker["securityContext"]


def test_actions_topic_is_configured(full: list[dict[str, Any]]) -> None:
    assert env_of(full)["INVOICE_SYNC_TOPIC_ACTIONS"]["value"] == "invoice.sync.actions"


# --- NetworkPolicy ----------------------------------------------------------------------------


def test_network_policy_is_opt_in(defaults: list[dict[str, Any]]) -> None:
    assert not by_kind_list(defaults, "NetworkPolicy")


def test_ingress_only_from_workers_monitoring_and_named_clients(
    full: list[dict[str, Any]],
) -> None:
    spec = one(full, "NetworkPolicy")["spec"]
    assert spec["podSelector"]["matchLabels"] == SELECTOR
    assert spec["policyTypes"] == ["Ingress", "Egress"]
    [rule] = spec["ingress"]
    assert rule["ports"] == [{"port": "http", "protocol": "TCP"}]
    assert rule["from"] == [
        {"podSelector": {"matchLabels": SELECTOR}},
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}},
         "podSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus"}}},
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "finance-tools"}}},
        {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "invoice-sync-cli"}}},
    ]
    port_names = {p["name"] for p in container(full, "worker")["ports"]}
    assert "http" in port_names


def test_egress_only_to_kafka_dns_and_the_other_workers(full: list[dict[str, Any]]) -> None:
    kafka, dns, peers = one(full, "NetworkPolicy")["spec"]["egress"]
    assert kafka["ports"] == [{"port": 9093, "protocol": "TCP"}]  # from kafka.broker
    assert kafka["to"][0]["namespaceSelector"]["matchLabels"] == {
        "kubernetes.io/metadata.name": "kafka"}
    assert {(p["port"], p["protocol"]) for p in dns["ports"]} == {(53, "UDP"), (53, "TCP")}
    assert dns["to"][0]["podSelector"]["matchLabels"] == {"k8s-app": "kube-dns"}
    assert peers == {"ports": [{"port": 6066, "protocol": "TCP"}],
                     "to": [{"podSelector": {"matchLabels": SELECTOR}}]}


def test_kafka_egress_ports_follow_the_bootstrap_servers() -> None:
    objects = objects_of(helm_template(
        "--set", "networkPolicy.enabled=true",
        "--set", "kafka.broker=kafka://a.kafka:9092\\,b.kafka:9094\\,c.kafka:9092",
        "--set", "networkPolicy.kafka.extraPorts={9095}",
    ))
    kafka = one(objects, "NetworkPolicy")["spec"]["egress"][0]
    assert [p["port"] for p in kafka["ports"]] == [9092, 9094, 9095]
    assert "to" not in kafka  # no peers named: any address, on those ports only


@pytest.mark.parametrize("values", ["defaults", "full"])
def test_kubeconform_strict_accepts_the_new_objects(values: str) -> None:
    args = () if values == "defaults" else ("--values", str(FULL_VALUES))
    manifest = helm_template(*args)
    report = json.loads(run([*kubeconform_args(), "-verbose", "-"], stdin=manifest))
    valid = {r["kind"] for r in report["resources"] if r["status"] == "statusValid"}
    expected = {"Secret"} if values == "defaults" else {"NetworkPolicy"}
    assert expected <= valid, report
    assert report["summary"]["invalid"] == report["summary"]["errors"] == 0


def test_kubeconform_rejects_a_misspelt_network_policy(full: list[dict[str, Any]]) -> None:
    policy = one(full, "NetworkPolicy")
    broken = {**policy, "spec": {**policy["spec"], "egres": policy["spec"]["egress"]}}
    output = run_failing([*kubeconform_args(), "-"], stdin=yaml.safe_dump(broken))
    assert "egres" in output


# --- the init check, run for real on what the chart renders ----------------------------------

SLA_RULES = '{"default": {"warn_after": "15m", "critical_after": "4h"}, "rules": [{"region_code": "110000", "warn_after": "5m", "critical_after": "1h"}]}'  # noqa: E501


def check_config(objects: list[dict[str, Any]], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """`invoice-sync check-config` with the init container's environment and files.

    The ConfigMap and Secret are written under ``tmp_path`` and the container's paths remapped
    there; the pod-name field reference and its $(...) use are filled in as the kubelet would.
    """
    moved = {"/etc/invoice-sync/sla": tmp_path / "sla",
             "/etc/invoice-sync/api-tokens": tmp_path / "api-tokens",
             "/var/lib/invoice-sync": tmp_path / "state"}
    for directory in moved.values():
        directory.mkdir()
    for config_map in by_kind_list(objects, "ConfigMap"):
        for key, text in config_map["data"].items():
            (moved["/etc/invoice-sync/sla"] / key).write_text(text)
    token_file(objects, moved["/etc/invoice-sync/api-tokens"])
    env = {"PATH": "/usr/bin:/bin", **{k: v for k, v in os.environ.items() if k == "PYTHONPATH"}}
    for entry in container(objects, "check-config")["env"]:
        value = "inv-invoice-sync-0" if "valueFrom" in entry else entry["value"]
        value = value.replace("$(INVOICE_SYNC_INSTANCE_ID)", "inv-invoice-sync-0")
        for mounted, local in moved.items():
            value = value.replace(mounted, str(local))
        env[entry["name"]] = value
    return subprocess.run(
        [sys.executable, "-c", "import sys; from pipeline.cli import main; sys.exit(main())",
         *container(objects, "check-config")["args"]],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False)


def test_check_config_accepts_the_rendered_configuration(tmp_path: Path) -> None:
    objects = objects_of(helm_template(
        "--set-json", f"slaRules={SLA_RULES}",
        "--set", "api.tokens.entries[0].name=finance-bot",
        "--set", "api.tokens.entries[0].role=read",
        "--set", f"api.tokens.entries[0].token={TOKEN}",
    ))
    done = check_config(objects, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout
    assert "finance-bot (read)" in done.stdout and "1 specific rule(s)" in done.stdout


def test_check_config_stops_what_the_values_schema_cannot_see(tmp_path: Path) -> None:
    # Warning after critical: each duration is valid on its own (the chart's schema accepts it),
    # the worker's loader refuses the pair, and the init container fails the pod with why.
    objects = objects_of(helm_template(
        "--set-json", 'slaRules={"rules": [{"region_code": "110000", "warn_after": "2h", '
                      '"critical_after": "1h"}]}',
    ))
    done = check_config(objects, tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "FAILED" in done.stderr and "must be greater than warn_after" in done.stderr
