"""``degraded`` decided once for the whole group: three workers each see a share of a region too
small to decide anything, yet the region (and its source system, and the platform) degrades
once, under one ``alert_id``; every worker is killed mid-episode and restarted, and the episode
is still resolved, under the id it was raised with (pipeline/worker/ledgers.py)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from pipeline.contracts.samples import sample_ack, sample_issued
from tests.integration.harness import Stack, WorkerProcess, wait_for

INVOICES = 24  # >= DEGRADED_MIN_INVOICES (20) for the group, well under it for any one worker
SCOPES = {("platform", ""), ("region_code", "110000"), ("source_system", "erp-beijing")}


def _unsynced_alerted(worker: WorkerProcess) -> int:
    return sum(int(float(v)) for v in re.findall(
        r'^invoice_sync_alerts_total\{kind="unsynced",[^}]*severity="warning"\} ([0-9.e+]+)$',
        worker.metrics(), re.M))


def _scope(alert: dict[str, object]) -> tuple[str, str]:
    scope = str(alert["scope"])
    return scope, "" if scope == "platform" else str(alert[scope])


def test_one_episode_one_id_across_workers_and_a_restart(stack: Stack) -> None:
    settings = {"PARTITIONS": "6", "WARN_AFTER": "4s", "CRITICAL_AFTER": "600s"}
    stack.create_topics(**settings)
    workers = [stack.worker(name, **settings) for name in ("w1", "w2", "w3")]
    for worker in workers:
        worker.wait_ready()
    wait_for(lambda: all(w.ready() for w in workers), 60, "all three workers to own partitions")
    now = datetime.now(UTC).isoformat()
    invoices = [sample_issued(seq=500 + i, issued_at=now) for i in range(INVOICES)]
    stack.produce_events("issued", invoices)

    def degraded(alerts: list[dict[str, object]]) -> dict[tuple[str, str], set[str]]:
        found: dict[tuple[str, str], set[str]] = {}
        for alert in alerts:
            if alert["kind"] == "degraded":
                found.setdefault(_scope(alert), set()).add(str(alert["alert_id"]))
        return found

    alerts = stack.alerts(lambda a: set(degraded(a)) >= SCOPES, timeout=120)
    # No worker alone had enough to decide: the per-worker detector never fired here.
    counts = [_unsynced_alerted(w) for w in workers]
    assert sum(counts) == INVOICES and max(counts) < 20, counts
    assert sum(1 for c in counts if c) >= 2, counts
    raised = degraded(alerts)
    assert set(raised) == SCOPES, raised
    assert all(len(ids) == 1 for ids in raised.values()), raised
    region = next(a for a in alerts if a["kind"] == "degraded" and a["scope"] == "region_code")
    # Raised once 20 were in (evidence arrives every half second): more than any worker had.
    assert max(counts) < region["due_count"] == region["unsynced_count"] <= INVOICES, region
    assert region["probable_cause"]["code"] in ("platform_unavailable", "unknown"), region

    # Every worker dies mid-episode (SIGKILL: no shutdown) and comes back on its state dir.
    for worker in workers:
        worker.kill()
    for worker in workers:
        stack.restart(worker)
    for worker in workers:
        worker.wait_ready()
    # The acks come back late: the episode ends, on whichever worker now owns each ledger.
    acked = datetime.now(UTC).isoformat()
    stack.produce_events("acknowledged", [sample_ack(i["invoice_id"], acknowledged_at=acked)
                                          for i in invoices])

    def resolved(alerts: list[dict[str, object]]) -> dict[tuple[str, str], list[object]]:
        return {_scope(a): list(a["resolved_alert_ids"])  # type: ignore[call-overload]
                for a in alerts if a["kind"] == "resolved" and a.get("scope")}

    alerts = stack.alerts(lambda a: set(resolved(a)) >= SCOPES, timeout=120)
    assert degraded(alerts) == raised  # the restart raised no second episode
    for scope, ids in resolved(alerts).items():
        assert ids == sorted(raised[scope]), (scope, ids, raised)
