"""Observability end to end: a real worker's metrics, scraped by a real Prometheus running the
repository's rules, alert through a real Alertmanager (deployed routing) to a webhook, and the
alert resolves once the invoices are acknowledged."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from pipeline.contracts.samples import sample_ack, sample_issued
from tests.e2e.conftest import StartPrometheus
from tests.e2e.monitoring import MonitoringProcess
from tests.e2e.webhook import WebhookReceiver
from tests.integration.harness import Stack, WorkerProcess, wait_for

ALERT = "InvoiceSyncUnsyncedPastWarning"
REGION = "110000"  # sample_issued() is a Beijing invoice
INVOICES = 3  # well under degraded_min_invoices: no region outage to inhibit the warning
DEADLINE = 90.0  # seconds, generous for a 2-core machine


class Scene:
    """What the test observes, and everything worth showing when a wait times out."""

    def __init__(self, worker: WorkerProcess, prometheus: MonitoringProcess,
                 alertmanager: MonitoringProcess, webhook: WebhookReceiver) -> None:
        self.worker = worker
        self.prometheus = prometheus
        self.alertmanager = alertmanager
        self.webhook = webhook

    def eventually(self, condition: Callable[[], Any], what: str,
                   timeout: float = DEADLINE) -> Any:
        """``wait_for`` with the logs, Prometheus' alerts and the notifications on failure."""
        try:
            return wait_for(condition, timeout, what)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{self.diagnostics()}") from None

    def diagnostics(self) -> str:
        try:
            alerts = json.dumps(self.prometheus.api("/api/v1/alerts"), indent=1)[-3000:]
        except (AssertionError, OSError, ValueError) as exc:
            alerts = f"(unavailable: {exc})"
        pending = [line for line in self.worker.metrics().splitlines()
                   if line.startswith("invoice_sync_pending_invoices")] if self._up() else []
        return "\n".join([
            f"--- webhook payloads ---\n{json.dumps(self.webhook.payloads(), indent=1)[-4000:]}",
            f"--- prometheus /api/v1/alerts ---\n{alerts}",
            "--- worker pending gauge ---\n" + "\n".join(pending),
            f"--- prometheus log tail ---\n{self.prometheus.tail()}",
            f"--- alertmanager log tail ---\n{self.alertmanager.tail()}",
            f"--- worker log tail ---\n{self.worker.tail(40)}",
        ])

    def _up(self) -> bool:
        try:
            return self.worker.http("/healthz")[0] == 200
        except OSError:
            return False

    def notified(self, status: str) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        """(payload, alert) of each notification about ALERT in REGION with ``status``."""
        return [(payload, alert) for payload in self.webhook.payloads()
                for alert in payload.get("alerts", [])
                if alert.get("labels", {}).get("alertname") == ALERT
                and alert["labels"].get("region_code") == REGION
                and alert.get("status") == status]

    def prometheus_alerts(self, state: str) -> list[dict[str, Any]]:
        """ALERT in REGION as Prometheus itself reports it, in ``state``."""
        return [alert for alert in self.prometheus.api("/api/v1/alerts")["alerts"]
                if alert["labels"].get("alertname") == ALERT
                and alert["labels"].get("region_code") == REGION and alert["state"] == state]

    def rules(self) -> list[dict[str, Any]]:
        """Every rule Prometheus loaded, recording and alerting."""
        groups = self.prometheus.api("/api/v1/rules")["groups"]
        return [rule for group in groups for rule in group["rules"]]

    def evaluated_rules(self) -> list[dict[str, Any]]:
        """Every rule, once each has been evaluated at least once (else an empty list)."""
        rules = self.rules()
        return rules if all(rule["health"] != "unknown" for rule in rules) else []

    def target_up(self) -> bool:
        targets = self.prometheus.api("/api/v1/targets")["activeTargets"]
        return any(t["labels"].get("job") == "invoice-sync" and t["health"] == "up"
                   for t in targets)


def _now_iso() -> str:
    return datetime.now(UTC).isoformat()


def test_unsynced_invoices_alert_and_resolve_through_prometheus_and_alertmanager(
        stack: Stack, prometheus: StartPrometheus, alertmanager: MonitoringProcess,
        webhook: WebhookReceiver) -> None:
    stack.create_topics()
    worker = stack.worker(WARN_AFTER="3s", CRITICAL_AFTER="600s").wait_ready()
    scene = Scene(worker, prometheus([worker.port]), alertmanager, webhook)
    scene.eventually(scene.target_up, "Prometheus to scrape the worker (target health up)")

    issued_at = _now_iso()
    invoices = [sample_issued(seq=100 + n, issued_at=issued_at) for n in range(INVOICES)]
    assert len({invoice["invoice_id"] for invoice in invoices}) == INVOICES
    assert {invoice["region_code"] for invoice in invoices} == {REGION}
    stack.produce_events("issued", invoices)

    # No acknowledgement: 3s later the worker warns, its gauge moves the invoices to
    # age_band="past_warning", and the rule fires through Alertmanager to the webhook.
    firing = scene.eventually(lambda: scene.notified("firing"),
                              f"a firing {ALERT}{{region_code={REGION!r}}} notification")
    payload, alert = firing[0]
    assert payload["version"] == "4", payload
    assert payload["status"] == "firing", payload
    assert payload["receiver"] == "alert-webhook", payload  # the deployed route's receiver
    assert payload["groupLabels"] == {"alertname": ALERT, "region_code": REGION}, payload
    assert alert["labels"]["severity"] == "warning", alert
    assert alert["labels"]["condition"] == "unsynced", alert
    assert f"region {REGION} past the warning deadline" in alert["annotations"]["summary"], alert
    assert alert["annotations"]["runbook_url"] == f"docs/runbook.md#{ALERT.lower()}", alert
    # Every rule keeps job (and namespace, absent outside Kubernetes) through its aggregations.
    assert alert["labels"]["job"] == "invoice-sync", alert
    # Routed by the deployed severity="warning" child route, grouped by alertname and region.
    assert payload["groupKey"].startswith('{}/{severity="warning"}:'), payload

    # Prometheus itself: the shortened rule is loaded, it is firing, and every rule of the
    # repository's file evaluates without error against a real worker's metrics.
    assert scene.eventually(lambda: scene.prometheus_alerts("firing"),
                            f"Prometheus to report {ALERT} firing")
    rules = scene.eventually(scene.evaluated_rules, "every rule to have been evaluated once")
    by_name = {rule["name"]: rule for rule in rules}
    assert by_name[ALERT]["type"] == "alerting", by_name[ALERT]
    assert by_name[ALERT]["duration"] == 1, by_name[ALERT]  # `for: 10m` shortened to 1s
    assert by_name[ALERT]["state"] == "firing", by_name[ALERT]
    broken = {rule["name"]: rule.get("lastError") for rule in rules if rule["health"] != "ok"}
    assert broken == {}, broken
    assert not scene.notified("resolved"), scene.notified("resolved")

    # The accepted acknowledgements sync the invoices: the past_warning series goes away,
    # Prometheus resolves the alert and Alertmanager sends the resolved notification.
    stack.produce_events("acknowledged", [
        sample_ack(invoice["invoice_id"], acknowledged_at=_now_iso()) for invoice in invoices])
    resolved = scene.eventually(lambda: scene.notified("resolved"),
                                f"a resolved {ALERT}{{region_code={REGION!r}}} notification")
    payload, alert = resolved[0]
    assert payload["version"] == "4", payload
    assert payload["status"] == "resolved", payload
    assert alert["labels"]["severity"] == "warning", alert
    assert alert["endsAt"] >= alert["startsAt"], alert
    assert scene.prometheus_alerts("firing") == []
    assert scene.prometheus_alerts("pending") == []
