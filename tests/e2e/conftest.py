"""End-to-end fixtures: the session's real broker and per-test worker stack (from the
integration suite), plus a real Alertmanager, a real Prometheus and the webhook they alert to."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.e2e.monitoring import MonitoringProcess, start_alertmanager, start_prometheus
from tests.e2e.webhook import WebhookReceiver
from tests.integration.conftest import broker, stack  # noqa: F401  (fixtures reused here)

StartPrometheus = Callable[[list[int]], MonitoringProcess]


@pytest.fixture
def webhook() -> Iterator[WebhookReceiver]:
    """The receiver Alertmanager notifies (payload version 4), collecting every notification."""
    with WebhookReceiver() as receiver:
        yield receiver


@pytest.fixture
def alertmanager(webhook: WebhookReceiver, tmp_path: Path) -> Iterator[MonitoringProcess]:
    """A ready Alertmanager running the deployed routing with fast timings."""
    process = start_alertmanager(tmp_path / "alertmanager", webhook.url)
    try:
        yield process.wait_ready()
    finally:
        process.stop()


@pytest.fixture
def prometheus(alertmanager: MonitoringProcess, tmp_path: Path) -> Iterator[StartPrometheus]:
    """Start a ready Prometheus scraping the given worker web ports and alerting to
    ``alertmanager`` (a function: the workers' ports are known only once they are started)."""
    started: list[MonitoringProcess] = []

    def start(worker_ports: list[int]) -> MonitoringProcess:
        directory = tmp_path / f"prometheus-{len(started)}"
        process = start_prometheus(directory, worker_ports, alertmanager.port)
        started.append(process)
        return process.wait_ready()

    try:
        yield start
    finally:
        for process in started:
            process.stop()
