"""The operator API's front door on two real workers: bearer tokens (401 without or with a wrong
one), public probes and metrics, faust's own endpoints gone, the caller's token forwarded to the
owning worker, JSON 4xx for bad requests, and a /pending filter that matches nothing answering
within its scan budget with a cursor that walks on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from pipeline.cli import main as cli_main
from pipeline.contracts.samples import sample_issued
from tests.integration.harness import Stack, WorkerProcess, wait_for


def call(worker: WorkerProcess, path: str, token: str | None = None,
         method: str = "GET") -> tuple[int, Any]:
    status, body = worker.http(path, token=token, method=method)
    try:
        return status, orjson.loads(body)
    except orjson.JSONDecodeError:
        return status, body


def test_tokens_roles_faust_endpoints_forwarding_and_bounded_pending(
        stack: Stack, capsys: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    stack.create_topics()
    settings = {"WARN_AFTER": "1h", "CRITICAL_AFTER": "2h", "API_SCAN_BUDGET": "3"}
    first, second = stack.worker("w1", **settings), stack.worker("w2", **settings)
    wait_for(lambda: first.ready() and second.ready(), 90, "both workers to own partitions")

    start = datetime.now(UTC) - timedelta(minutes=10)
    invoices = [sample_issued(seq=700 + i, issued_at=(start + timedelta(seconds=i)).isoformat(),
                              region_code="310000") for i in range(24)]
    invoices[7]["region_code"] = invoices[19]["region_code"] = "110000"
    stack.produce_events("issued", invoices)
    wait_for(lambda: call(first, "/summary", stack.read_token)[1].get("issued") == 24, 60,
             "both workers to hold all 24 invoices")

    # No token, a wrong token, another scheme: 401 JSON; probes and metrics need none.
    for token in ("", "not-a-token-of-this-group", f"{stack.read_token}x"):
        for path in ("/pending", "/summary", f"/invoices/{invoices[0]['invoice_id']}",
                     "/pending/local", "/router", "/table/invoices", "/"):
            status, body = call(first, path, token)
            assert (status, body["error"]) == (401, "unauthorized"), (path, token, body)
    for path in ("/healthz", "/readyz", "/metrics"):
        assert call(first, path, "")[0] == 200, path

    # faust's own views are gone: with a valid token they are unknown paths (JSON 404).
    for path in ("/", "/router", "/router/", "/table", "/table/invoices", "/graph",
                 "/performance/", "/stats/"):
        status, body = call(second, path, stack.read_token)
        assert (status, body["error"]) == (404, "not_found"), (path, body)

    # A read token looks up every invoice from either worker: a lookup of an invoice the other
    # worker owns is forwarded with the caller's token (no token: the owner would say 401).
    served = {call(w, f"/invoices/{i['invoice_id']}", stack.read_token)[1]["served_by"]
              for i in invoices for w in (first, second)}
    assert served == {f"http://127.0.0.1:{w.port}" for w in (first, second)}
    status, page = call(first, "/pending?limit=100", stack.read_token)
    assert status == 200 and page["workers"] == 2

    # A filter that matches 2 of 24, budget 3 per worker: pages (some empty) with a cursor,
    # and following it finds exactly the two, in order.
    found, pages, empty = [], 0, 0
    cursor = ""
    while True:
        status, page = call(first, f"/pending?region_code=110000&limit=5{cursor}",
                            stack.read_token)
        assert status == 200, page
        pages += 1
        empty += not page["items"]
        found += [r["invoice_id"] for r in page["items"]]
        if page["next_cursor"] is None:
            break
        cursor = f"&cursor={page['next_cursor']}"
    assert found == [invoices[7]["invoice_id"], invoices[19]["invoice_id"]]
    assert pages >= 4 and empty >= 1, (pages, empty)

    # Bad requests are JSON 4xx, never 500 or HTML.
    for path, method, expected in [
            ("/pending?limit=abc", "GET", 400), ("/pending?seller_tax_id=x", "GET", 400),
            ("/invoices/" + "9" * 80, "GET", 400), ("/summary?until=0&since=5", "GET", 400),
            ("/pending?cursor=%00", "GET", 400), ("/pending", "POST", 405),
            ("/healthz/../router", "GET", 404)]:
        status, body = call(second, path, stack.read_token, method)
        assert status == expected and body["status"] == expected, (path, body)

    # The CLI sends INVOICE_SYNC_API_TOKEN; without one it exits 4 naming the problem.
    url = f"--url=http://127.0.0.1:{second.port}"
    monkeypatch.delenv("INVOICE_SYNC_API_TOKEN", raising=False)
    capsys.readouterr()
    assert cli_main(["pending", url]) == 4
    assert "bearer token" in capsys.readouterr().err
    monkeypatch.setenv("INVOICE_SYNC_API_TOKEN", stack.read_token)
    assert cli_main(["pending", url, "--region-code=110000", "--all"]) == 0
    out = capsys.readouterr().out
    assert invoices[7]["invoice_id"] in out and invoices[19]["invoice_id"] in out
