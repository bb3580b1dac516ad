"""Real Prometheus and Alertmanager processes for the end-to-end test, with fast configs.

The configs are written to the test's tmp dir: Prometheus scrapes and evaluates every second
with the repository's rules file (``for:`` shortened), and Alertmanager runs the repository's
routing tree and inhibit rules with second-long timings and its webhook pointed at the test.
"""

from __future__ import annotations

import json
import re
import subprocess
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import yaml

from pipeline.localkafka.ports import HOST, free_port
from tests.integration.harness import wait_for

ROOT = Path(__file__).resolve().parents[2]
RULES_FILE = ROOT / "deploy" / "prometheus" / "rules" / "invoice-sync.rules.yml"
ALERTMANAGER_CONFIG = ROOT / "deploy" / "alertmanager" / "alertmanager.yml"

PROMETHEUS_BIN = "/usr/bin/prometheus"
ALERTMANAGER_BIN = "/usr/bin/prometheus-alertmanager"
INSTALL_HINT = "run scripts/install-monitoring.sh (as root) to install Prometheus and Alertmanager"

# The same pattern as tests/unit/test_deploy_monitoring.py, which pins the rules file's format.
FOR_LINE = re.compile(r"^(?P<indent>\s+)for: (?P<minutes>\d+)m$", re.MULTILINE)
ALERT_LINE = re.compile(r"^\s+- alert: ", re.MULTILINE)

# Alertmanager timings for the test: notify a new group after 1s, changes to it after 1s.
FAST_ROUTE_TIMINGS = {"group_wait": "1s", "group_interval": "1s", "repeat_interval": "1m"}


def with_short_for(rules_text: str, seconds: int) -> str:
    """Rewrite every `for: <N>m` to `for: <seconds>s`; fail if an alert's `for:` was missed."""
    fast, count = FOR_LINE.subn(lambda m: f"{m.group('indent')}for: {seconds}s", rules_text)
    alerts = len(ALERT_LINE.findall(rules_text))
    if count != alerts:
        raise AssertionError(f"shortened {count} `for:` lines but the rules file has {alerts} "
                             f"alerts: keep each `for: <N>m` on its own line ({RULES_FILE})")
    return fast


def fast_rules(directory: Path, for_seconds: int = 1) -> Path:
    """A copy of the invoice-sync rules with every `for:` shortened to ``for_seconds``."""
    path = directory / RULES_FILE.name
    path.write_text(with_short_for(RULES_FILE.read_text(encoding="utf-8"), for_seconds),
                    encoding="utf-8")
    return path


def _fast_route(route: dict[str, Any]) -> dict[str, Any]:
    fast = {**route, **FAST_ROUTE_TIMINGS}
    if "routes" in route:
        fast["routes"] = [_fast_route(child) for child in route["routes"]]
    return fast


def alertmanager_config(webhook_url: str) -> dict[str, Any]:
    """The repository's Alertmanager config with fast timings and every webhook at ``webhook_url``.

    Grouping, matchers, inhibit rules and send_resolved stay as deployed: they are under test.
    """
    config: dict[str, Any] = yaml.safe_load(ALERTMANAGER_CONFIG.read_text(encoding="utf-8"))
    config["route"] = _fast_route(config["route"])
    for receiver in config["receivers"]:
        for webhook in receiver.get("webhook_configs", []):
            webhook["url"] = webhook_url
    return config


def prometheus_config(worker_ports: list[int], alertmanager_port: int,
                      rules_file: Path) -> dict[str, Any]:
    """Scrape the workers every second, evaluate ``rules_file`` every second, alert to one AM."""
    return {
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s",
                   "evaluation_interval": "1s"},
        "rule_files": [str(rules_file)],
        "alerting": {"alertmanagers": [
            {"static_configs": [{"targets": [f"{HOST}:{alertmanager_port}"]}]}]},
        # The job name is the deployed one: InvoiceSyncPipelineDown selects on it.
        "scrape_configs": [{
            "job_name": "invoice-sync",
            "metrics_path": "/metrics",
            "static_configs": [{"targets": [f"{HOST}:{port}" for port in worker_ports]}],
        }],
    }


class MonitoringProcess:
    """One Prometheus or Alertmanager process listening on its own loopback port."""

    def __init__(self, name: str, argv: list[str], port: int, log_path: Path) -> None:
        self.name = name
        self.argv = argv
        self.port = port
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> MonitoringProcess:
        if not Path(self.argv[0]).is_file():
            raise AssertionError(f"{self.argv[0]} not found: {INSTALL_HINT}")
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(self.argv, stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
        return self

    def get(self, path: str) -> tuple[int, bytes]:
        """GET ``path`` from the process's HTTP API."""
        try:
            with urllib.request.urlopen(f"http://{HOST}:{self.port}{path}", timeout=5) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def api(self, path: str) -> Any:
        """The ``data`` of a successful Prometheus API response."""
        status, body = self.get(path)
        if status != 200:
            raise AssertionError(f"{self.name} GET {path}: HTTP {status}: {body[:500]!r}")
        return json.loads(body)["data"]

    def ready(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(
                f"{self.name} exited with {self.proc.returncode}:\n{self.tail()}")
        try:
            return self.get("/-/ready")[0] == 200
        except OSError:
            return False

    def wait_ready(self, timeout: float = 60) -> MonitoringProcess:
        try:
            wait_for(self.ready, timeout, f"{self.name} on :{self.port} to be ready")
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n--- {self.name} log tail ---\n{self.tail()}") from None
        return self

    def stop(self, timeout: float = 30) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def start_alertmanager(directory: Path, webhook_url: str) -> MonitoringProcess:
    """A started (not yet ready) Alertmanager without clustering, state in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    config = directory / "alertmanager.yml"
    config.write_text(yaml.safe_dump(alertmanager_config(webhook_url)), encoding="utf-8")
    port = free_port()
    argv = [ALERTMANAGER_BIN, f"--config.file={config}",
            f"--storage.path={directory / 'data'}",
            f"--web.listen-address={HOST}:{port}",
            "--cluster.listen-address=",  # empty: a single instance, no gossip port
            "--log.level=info"]
    return MonitoringProcess("alertmanager", argv, port, directory / "alertmanager.log").start()


def start_prometheus(directory: Path, worker_ports: list[int],
                     alertmanager_port: int) -> MonitoringProcess:
    """A started (not yet ready) Prometheus scraping ``worker_ports``, TSDB in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    rules = fast_rules(directory)
    config = directory / "prometheus.yml"
    config.write_text(yaml.safe_dump(prometheus_config(worker_ports, alertmanager_port, rules)),
                      encoding="utf-8")
    port = free_port()
    argv = [PROMETHEUS_BIN, f"--config.file={config}",
            f"--storage.tsdb.path={directory / 'data'}",
            f"--web.listen-address={HOST}:{port}",
            "--log.level=info"]
    return MonitoringProcess("prometheus", argv, port, directory / "prometheus.log").start()
