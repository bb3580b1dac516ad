"""A declared maintenance window on a real worker: the deadline inside it waits for its end plus
the grace and then names the window as probable cause; one alert marks the start, one the end;
an invoice acknowledged during the window never alerts. A window declared through
``POST /maintenance`` on one worker reaches every worker."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from pipeline.contracts.samples import sample_ack, sample_issued
from tests.integration.harness import Stack, WorkerProcess, wait_for


def iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat()


def test_a_declared_window_defers_deadlines_and_is_announced(stack: Stack,
                                                             tmp_path: Path) -> None:
    now = time.time()
    start, end, grace = now + 30, now + 50, 5.0
    windows = tmp_path / "maintenance.yaml"
    windows.write_text(f"grace: {grace:g}s\nwindows:\n  - id: leqi-upgrade\n"
                       f"    start: '{iso(start)}'\n    end: '{iso(end)}'\n"
                       "    reason: platform upgrade\n", encoding="utf-8")
    before = sample_issued(seq=701, issued_at=iso(now))  # warns at now + 10: before the window
    inside = sample_issued(seq=702, issued_at=iso(start - 5))  # warns at start + 5: deferred
    answered = sample_issued(seq=703, issued_at=iso(start - 5))  # acked during the window
    stack.create_topics()
    stack.produce_events("issued", [before, inside, answered])
    stack.worker(WARN_AFTER="10s", CRITICAL_AFTER="600s",
                 MAINTENANCE_WINDOWS=str(windows)).wait_ready()

    def kinds(alerts: list[dict[str, Any]]) -> list[str]:
        return [a["kind"] for a in alerts]

    stack.alerts(lambda a: "maintenance" in kinds(a), timeout=90)
    stack.produce_events("acknowledged", [sample_ack(answered["invoice_id"],
                                                     acknowledged_at=iso(time.time()))])
    alerts = stack.alerts(lambda a: any(x["invoice_id"] == inside["invoice_id"] for x in a),
                          timeout=120)
    by_invoice = {a["invoice_id"]: a for a in alerts if a["kind"] == "unsynced"}
    assert set(by_invoice) == {before["invoice_id"], inside["invoice_id"]}
    # Before the window, uploads untracked, no scope degraded: the worker says it cannot tell.
    assert by_invoice[before["invoice_id"]]["probable_cause"]["code"] == "unknown"
    deferred = by_invoice[inside["invoice_id"]]
    assert deferred["probable_cause"]["code"] == "platform_maintenance"
    assert deferred["probable_cause"]["evidence"]["window_id"] == "leqi-upgrade"
    deadline = datetime.fromisoformat(deferred["deadline_at"]).timestamp()
    assert deadline == pytest.approx(end + grace, abs=1e-3)  # ISO times keep microseconds
    assert datetime.fromisoformat(deferred["detected_at"]).timestamp() >= deadline
    marks = [a for a in alerts if a["kind"] == "maintenance"]
    assert len({a["alert_id"] for a in marks}) == 2
    started, ended = marks[0], marks[-1]
    assert ended["resolved_alert_ids"] == [started["alert_id"]]
    assert started["scope"] == "platform" and started["severity"] == "info"


def test_a_window_declared_through_the_api_reaches_every_worker(stack: Stack,
                                                                tmp_path: Path) -> None:
    grace = 3.0
    windows = tmp_path / "maintenance.yaml"  # no window in the file, only its grace
    windows.write_text(f"grace: {grace:g}s\nwindows: []\n", encoding="utf-8")
    settings = {"WARN_AFTER": "10s", "CRITICAL_AFTER": "600s",
                "MAINTENANCE_WINDOWS": str(windows)}
    stack.create_topics(**settings)
    workers = [stack.worker(name, **settings) for name in ("w1", "w2")]
    for worker in workers:
        worker.wait_ready()
    first, second = workers
    now = time.time()
    start, end = now + 12, now + 27
    window = {"id": "db-upgrade", "start": iso(start), "end": iso(end),
              "reason": "database maintenance"}
    status, body = first.http("/maintenance", method="POST",
                              body=orjson.dumps({**window, "end": iso(start - 1)}))
    assert status == 400 and b"end" in body, body
    status, body = first.http("/maintenance", method="POST", body=orjson.dumps(window),
                              token=stack.read_token)
    assert status == 403, body
    status, body = first.http("/maintenance", method="POST", body=orjson.dumps(window))
    assert status == 200, body
    assert orjson.loads(body)["window"]["grace_seconds"] == grace

    def listed(worker: WorkerProcess) -> bool:
        return any(w["id"] == "db-upgrade"
                   for w in orjson.loads(worker.http("/maintenance")[1])["windows"])

    wait_for(lambda: listed(second), 30, "the declared window on the other worker")
    # Warnings at start + 5, inside the window, on both workers' partitions.
    invoices = [sample_issued(seq=800 + n, issued_at=iso(start - 5)) for n in range(8)]
    stack.produce_events("issued", invoices)
    ids = {i["invoice_id"] for i in invoices}
    alerts = stack.alerts(lambda a: {x["invoice_id"] for x in a if x["kind"] == "unsynced"}
                          >= ids, timeout=120)
    unsynced = [a for a in alerts if a["kind"] == "unsynced"]
    assert all(a["probable_cause"]["evidence"]["window_id"] == "db-upgrade" for a in unsynced)
    assert all(datetime.fromisoformat(a["deadline_at"]).timestamp()
               == pytest.approx(end + grace, abs=1e-3) for a in unsynced)
    for worker in workers:  # each applied the window to the invoices it owns
        assert 'kind="unsynced"' in worker.metrics(), worker.tail()
    assert [a["resolved_alert_ids"] for a in alerts if a["kind"] == "maintenance"][:1] == [[]]
