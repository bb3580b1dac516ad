"""Close-out actions on two real workers: an operator closes an invoice through either worker
(routed to its owner), it stops alerting and leaves the pending list and gauges, the audit
event is on invoice.sync.actions, a later accepted ack still records the sync, reopen brings it
back, roles are enforced, and the closed state survives its owner's death."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from pipeline.cli import main as cli_main
from pipeline.contracts.samples import sample_ack, sample_issued
from tests.integration.harness import Stack, WorkerProcess, wait_for


def call(worker: WorkerProcess, path: str, token: str | None = None, method: str = "GET",
         body: dict[str, Any] | None = None) -> tuple[int, Any]:
    status, raw = worker.http(path, token=token, method=method,
                              body=None if body is None else orjson.dumps(body))
    return status, orjson.loads(raw)


def pending_gauge(worker: WorkerProcess) -> float:
    return sum(float(v) for v in re.findall(r"^invoice_sync_pending_invoices\{.*\} (\S+)$",
                                            worker.metrics(), re.M))


def test_close_and_reopen_across_two_workers(stack: Stack, capsys: Any,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    stack.create_topics()
    first = stack.worker("w1", WARN_AFTER="15s", CRITICAL_AFTER="600s")
    second = stack.worker("w2", WARN_AFTER="15s", CRITICAL_AFTER="600s")
    wait_for(lambda: first.ready() and second.ready(), 90, "both workers to own partitions")
    now = datetime.now(UTC)
    a, b, c = (sample_issued(seq=900 + i, issued_at=now.isoformat()) for i in range(3))
    stack.produce_events("issued", [a, b, c])
    ops, reader = stack.operator_token, stack.read_token
    wait_for(lambda: all(call(first, f"/invoices/{i['invoice_id']}", reader)[0] == 200
                         for i in (a, b, c)), 30, "the three invoices to be known")

    # Roles and bad requests, before anything happens.
    path = f"/invoices/{a['invoice_id']}/close"
    assert call(first, path, "", "POST", {"reason": "voided"})[0] == 401
    status, body = call(first, path, reader, "POST", {"reason": "voided"})
    assert (status, body["error"]) == (403, "forbidden") and "'read'" in body["message"]
    for bad in ({"reason": "lost"}, {}, {"reason": "test", "colour": 1},
                {"reason": "test", "note": "x" * 501}):
        status, body = call(second, path, ops, "POST", bad)
        assert (status, body["error"]) == (400, "bad_request"), (bad, body)
    assert call(first, "/invoices/24110000000000009999/close", ops, "POST",
                {"reason": "test"})[0] == 404
    assert call(first, f"/invoices/{a['invoice_id']}/reopen", ops, "POST")[0] == 409

    # Close A through each worker in turn (one of them forwards to the owner): applied, shown.
    owner_of_a = call(first, f"/invoices/{a['invoice_id']}", reader)[1]["served_by"]
    via = first if owner_of_a != f"http://127.0.0.1:{first.port}" else second
    status, view = call(via, path, ops, "POST", {"reason": "voided", "note": "作废: 开错抬头"})
    assert status == 200, view
    assert view["status"] == "closed" and view["served_by"] == owner_of_a
    assert view["closed"]["reason"] == "voided" and view["closed"]["actor"] == "ops"
    assert view["actions"][0]["note"] == "作废: 开错抬头"
    assert call(first, path, ops, "POST", {"reason": "voided"})[0] == 409  # already closed

    # B and C reach their warning deadline (same issued_at as A): A never alerts.
    alerts = stack.alerts(lambda got: {x["invoice_id"] for x in got if x["kind"] == "unsynced"}
                          >= {b["invoice_id"], c["invoice_id"]}, timeout=60)
    assert all(x["invoice_id"] != a["invoice_id"] for x in alerts)
    _, page = call(second, "/pending", reader)
    assert [r["invoice_id"] for r in page["items"]] == [b["invoice_id"], c["invoice_id"]]
    wait_for(lambda: pending_gauge(first) + pending_gauge(second) == 2, 30,
             "the pending gauges to leave A out")

    # A rejected ack for closed A: no alert; an accepted one still records the sync.
    stack.produce_events("acknowledged", [sample_ack(a["invoice_id"], status="rejected")])
    stack.produce_events("acknowledged", [sample_ack(
        a["invoice_id"], acknowledged_at=(now + timedelta(seconds=40)).isoformat())])
    synced = wait_for(lambda: (v := call(second, f"/invoices/{a['invoice_id']}", reader)[1])
                      ["status"] == "synced" and v, 30, "A's accepted ack to be recorded")
    assert synced["latency_seconds"] == pytest.approx(40.0, abs=0.01)
    assert synced["closed"]["reason"] == "voided"  # the history stays

    # The CLI: close B with a read token is refused (exit 4); with an operator token it closes,
    # then reopen brings it back to pending.
    url = f"--url=http://127.0.0.1:{first.port}"
    monkeypatch.setenv("INVOICE_SYNC_API_TOKEN", reader)
    capsys.readouterr()
    assert cli_main(["close", b["invoice_id"], "--reason", "test", url]) == 4
    monkeypatch.setenv("INVOICE_SYNC_API_TOKEN", ops)
    assert cli_main(["close", b["invoice_id"], "--reason", "test", "--note", "UAT", url]) == 0
    assert "close test by ops" in capsys.readouterr().out
    assert cli_main(["reopen", b["invoice_id"], "--note", "real after all", url]) == 0
    assert "status now pending" in capsys.readouterr().out
    _, view = call(first, f"/invoices/{b['invoice_id']}", reader)
    assert [x["kind"] for x in view["actions"]] == ["close", "reopen"] and view["closed"] is None
    _, page = call(first, "/pending", reader)
    assert [r["invoice_id"] for r in page["items"]] == [b["invoice_id"], c["invoice_id"]]

    # The audit trail: every action on invoice.sync.actions, keyed by invoice id.
    records = stack.read("actions", lambda rs: len(rs) >= 3)
    events = sorted((orjson.loads(r.value) for r in records), key=lambda e: e["requested_at"])
    assert [(e["invoice_id"], e["action"], e["reason"], e["actor"]) for e in events] == [
        (a["invoice_id"], "close", "voided", "ops"), (b["invoice_id"], "close", "test", "ops"),
        (b["invoice_id"], "reopen", None, "ops")]
    assert all(r.key.decode() == orjson.loads(r.value)["invoice_id"] for r in records)

    # Kill A's owner: the survivor recovers A's record (closed) from the changelog.
    dead, survivor = (first, second) if owner_of_a.endswith(str(first.port)) else (second, first)
    dead.kill()
    wait_for(lambda: call(survivor, "/pending", reader)[0] == 200, 90,
             "the survivor to own every partition")
    _, view = call(survivor, f"/invoices/{a['invoice_id']}", reader)
    assert view["status"] == "synced" and view["closed"]["actor"] == "ops"
    assert view["served_by"] == f"http://127.0.0.1:{survivor.port}"
