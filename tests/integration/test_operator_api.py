"""The operator API on two real workers: lookups routed to the key's owner, the pending list and
the summary spanning both workers, JSON errors, and the CLI over the same API."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pytest

from pipeline.cli import main as cli_main
from pipeline.contracts.samples import sample_ack, sample_issued
from tests.integration.harness import Stack, WorkerProcess, wait_for


def get(worker: WorkerProcess, path: str) -> tuple[int, Any]:
    status, body = worker.http(path)
    return status, orjson.loads(body)


def test_two_workers_answer_lookups_pending_and_summary_for_the_whole_group(
        stack: Stack, capsys: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INVOICE_SYNC_API_TOKEN", stack.read_token)
    stack.create_topics()
    first = stack.worker("w1", WARN_AFTER="1h", CRITICAL_AFTER="2h")
    second = stack.worker("w2", WARN_AFTER="1h", CRITICAL_AFTER="2h")
    wait_for(lambda: first.ready() and second.ready(), 90, "both workers to own partitions")

    start = datetime.now(UTC) - timedelta(minutes=30)
    invoices = [sample_issued(seq=500 + i, issued_at=(start + timedelta(seconds=i)).isoformat(),
                              region_code="110000" if i % 2 else "310000")
                for i in range(16)]
    accepted, rejected = invoices[:4], invoices[4:6]
    stack.produce_events("issued", invoices)
    stack.produce_events("acknowledged", [
        *(sample_ack(i["invoice_id"], acknowledged_at=(
            datetime.fromisoformat(i["issued_at"]) + timedelta(seconds=5)).isoformat())
          for i in accepted),
        *(sample_ack(i["invoice_id"], status="rejected", acknowledged_at=start.isoformat())
          for i in rejected),
    ])
    unsynced = invoices[4:]

    def summary_settled() -> Any:
        status, body = get(first, "/summary")
        return status == 200 and body["issued"] == 16 and body["synced"] == 4 \
            and body["rejected"] == 2 and body
    summary = wait_for(summary_settled, 60, "both workers to hold all 16 invoices")

    # Every invoice is answered by either worker; each worker owns some of them.
    served_by = set()
    for invoice in invoices:
        answers = [get(w, f"/invoices/{invoice['invoice_id']}") for w in (first, second)]
        assert [code for code, _ in answers] == [200, 200], answers
        for _, view in answers:
            view.pop("age_seconds")
        assert answers[0][1] == answers[1][1]
        served_by.add(answers[0][1]["served_by"])
    assert served_by == {f"http://127.0.0.1:{w.port}" for w in (first, second)}

    _, view = get(second, f"/invoices/{accepted[0]['invoice_id']}")
    assert view["status"] == "synced" and view["latency_seconds"] == 5.0
    assert view["acknowledgement"]["status"] == "accepted"
    _, view = get(first, f"/invoices/{rejected[0]['invoice_id']}")
    assert view["status"] == "rejected" and view["acknowledgement"]["reason_code"] == "E1001"
    assert [a["kind"] for a in view["alerts"]] == ["rejected"]

    # Pending spans both workers, oldest first, and pages walk it exactly once.
    status, page = get(second, "/pending?limit=100")
    assert status == 200, page
    assert page["workers"] == 2 and page["next_cursor"] is None
    assert [r["invoice_id"] for r in page["items"]] == [i["invoice_id"] for i in unsynced]
    walked, cursor = [], ""
    while True:
        _, page = get(first, f"/pending?limit=5{cursor}")
        walked += [r["invoice_id"] for r in page["items"]]
        if page["next_cursor"] is None:
            break
        cursor = f"&cursor={page['next_cursor']}"
    assert walked == [i["invoice_id"] for i in unsynced]
    _, page = get(first, "/pending?region_code=110000&older_than=29m")
    expected = [i["invoice_id"] for i in unsynced if i["region_code"] == "110000"
                and datetime.fromisoformat(i["issued_at"]) <= datetime.now(UTC)
                - timedelta(minutes=29)]
    assert [r["invoice_id"] for r in page["items"]] == expected and expected

    # The reconciliation of the period, merged from both workers.
    assert summary["workers"] == 2 and summary["pending"] == 10
    assert summary["by_region"]["110000"]["issued"] == 8
    assert abs(summary["latency_seconds"]["p50"] - 5.0) <= 0.05
    _, beijing = get(second, "/summary?region_code=110000")
    assert beijing["issued"] == 8
    since = (start + timedelta(seconds=8)).isoformat()
    _, later = get(second, f"/summary?since={since.replace('+', '%2B')}")
    assert later["issued"] == 8 and later["synced"] == 0

    # Errors are JSON with a status code.
    status, body = get(first, "/invoices/24110000000000009999")
    assert (status, body["status"], body["error"]) == (404, 404, "not_found")
    assert body["message"].startswith("invoice 24110000000000009999 is not known")
    for bad in ("/pending?limit=0", "/pending?older_than=soon", "/pending?cursor=xyz",
                "/pending?region_code=BJ", "/summary?since=yesterday", "/pending?colour=red"):
        status, body = get(second, bad)
        assert status == 400 and body["status"] == 400 and body["message"], (bad, body)

    # The CLI asks the same API.
    url = f"--url=http://127.0.0.1:{second.port}"
    capsys.readouterr()
    assert cli_main(["status", rejected[0]["invoice_id"], url]) == 0
    assert "rejected" in capsys.readouterr().out
    assert cli_main(["status", "24110000000000009999", url]) == 1
    assert "not known" in capsys.readouterr().err
    assert cli_main(["pending", url, "--limit=4", "--all"]) == 0
    out = capsys.readouterr().out
    assert all(i["invoice_id"] in out for i in unsynced) and "12 pending" in out
    assert cli_main(["report", url, "--json"]) == 0
    assert orjson.loads(capsys.readouterr().out)["issued"] == 16
    assert cli_main(["pending", url, "--older-than=soon"]) == 2

    # Finance's exports: --json --all holds every page; CSV read back with the csv module.
    assert cli_main(["pending", url, "--limit=4", "--all", "--json"]) == 0
    everything = orjson.loads(capsys.readouterr().out)
    assert [r["invoice_id"] for r in everything["items"]] == [i["invoice_id"] for i in unsynced]
    assert everything["next_cursor"] is None and everything["count"] == 12
    assert everything["items"][0]["issued_at"].endswith("+00:00")  # the wire stays UTC
    assert cli_main(["pending", url, "--limit=5", "--all", "--format=csv"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))))
    assert [r["invoice_id"] for r in rows] == [i["invoice_id"] for i in unsynced]
    first_row, first_invoice = rows[0], unsynced[0]
    assert first_row["seller_name"] == "北京示例科技有限公司" == first_invoice["seller_name"]
    assert first_row["total_amount"] == "113.00"
    assert first_row["invoice_number"] == first_invoice["invoice_number"]
    assert first_row["seller_tax_id"] == first_invoice["seller_tax_id"]
    shanghai = datetime.fromisoformat(first_invoice["issued_at"]).astimezone(
        ZoneInfo("Asia/Shanghai"))
    assert first_row["issued_at (Asia/Shanghai)"] == shanghai.strftime("%Y-%m-%d %H:%M:%S")
    assert cli_main(["pending", url, "--seller-tax-id=91110108MA01AB2C0X", "--json"]) == 0
    assert orjson.loads(capsys.readouterr().out)["count"] == 0
    assert cli_main(["pending", url, f"--seller-tax-id={first_invoice['seller_tax_id']}",
                     "--json", "--all"]) == 0
    assert orjson.loads(capsys.readouterr().out)["count"] == 12
    assert cli_main(["report", url, "--format=csv", "--tz=UTC"]) == 0
    report_rows = list(csv.DictReader(io.StringIO(
        capsys.readouterr().out.removeprefix("\ufeff"))))
    assert report_rows[-1]["region_code"] == "all" and report_rows[-1]["issued"] == "16"
    assert {r["region_code"] for r in report_rows} == {"110000", "310000", "all"}
    assert cli_main(["report", url, "--tz=Mars/Olympus"]) == 2

    # A dead owner: JSON 503 naming the worker, not a hang or an HTML 500; after the
    # rebalance the survivor owns every partition and answers for every invoice again.
    owned_by_second = [i["invoice_id"] for i in invoices
                       if get(second, f"/invoices/{i['invoice_id']}")[1]["served_by"]
                       == f"http://127.0.0.1:{second.port}"]
    second.kill()
    # The group notices after the session timeout (6 s); until then the dead owner is asked.
    status, body = get(first, f"/invoices/{owned_by_second[0]}")
    assert status == 503 and body["error"] == "unavailable", body
    assert str(second.port) in body["message"]
    status, body = get(first, "/pending")
    assert status == 503 and body["error"] == "unavailable", body
    wait_for(lambda: get(first, "/pending")[0] == 200, 60, "the survivor to own every partition")
    for invoice_id in owned_by_second:
        status, body = get(first, f"/invoices/{invoice_id}")
        assert status == 200 and body["served_by"] == f"http://127.0.0.1:{first.port}"
    assert [r["invoice_id"] for r in get(first, "/pending")[1]["items"]] == [
        i["invoice_id"] for i in unsynced]
