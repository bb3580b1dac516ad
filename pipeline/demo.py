"""``make demo``: a local broker, one worker (warn_after 10s), a short realistic stream, and the
alerts printed as they arrive. Everything it starts, it stops."""

from __future__ import annotations

import asyncio
import os
import secrets
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from pipeline.contracts.samples import sample_ack, sample_issued, sample_submitted
from pipeline.localkafka.ports import free_port
from pipeline.localkafka.testing import running_broker
from pipeline.worker.process import WaitTimeout, WorkerExited, WorkerProcess, wait_for

WARN_AFTER = 10
EXPECTED = {"rejected": 2, "unsynced": 5, "resolved": 2, "maintenance": 2}
#: A declared maintenance window of erp-hangzhou's database, which ended half a minute before the
#: demo starts: its invoice's deadline fell inside, so it alerts once the window is over, naming it.
WINDOW_AGO = (60.0, 30.0)
WINDOW_GRACE = 5.0


def _declare_window(path: Path, launched: datetime) -> None:
    start, end = (launched - timedelta(seconds=ago) for ago in WINDOW_AGO)
    path.write_text(f"grace: {WINDOW_GRACE:g}s\nwindows:\n  - id: erp-hangzhou-db\n"
                    f"    start: '{start.isoformat()}'\n    end: '{end.isoformat()}'\n"
                    "    source_system: erp-hangzhou\n"
                    "    reason: ERP database maintenance\n", encoding="utf-8")


def _stream(now: datetime, launched: datetime) -> list[tuple[float, str, bytes, bytes]]:
    """(seconds from start, topic, key, value): what the billing systems and the platform send."""
    events: list[tuple[float, str, bytes, bytes]] = []

    def issue(at: float, seq: int, **kw: Any) -> dict[str, Any]:
        invoice = sample_issued(seq=seq, issued_at=(now + timedelta(seconds=at)).isoformat(),
                                **kw)
        events.append((at, "invoice.issued", invoice["invoice_id"].encode(),
                       orjson.dumps(invoice)))
        return invoice

    def submit(at: float, invoice: dict[str, Any], **kw: Any) -> None:
        """The uploader's attempt (invoice.submitted): what lets an alert say why."""
        upload = sample_submitted(invoice["invoice_id"],
                                  submitted_at=(now + timedelta(seconds=at)).isoformat(),
                                  client_name=f"{invoice['source_system']}-uploader", **kw)
        events.append((at, "invoice.submitted", invoice["invoice_id"].encode(),
                       orjson.dumps(upload)))

    def ack(at: float, invoice: dict[str, Any], **kw: Any) -> None:
        answer = sample_ack(invoice["invoice_id"],
                            acknowledged_at=(now + timedelta(seconds=at)).isoformat(), **kw)
        events.append((at, "invoice.acknowledged", invoice["invoice_id"].encode(),
                       orjson.dumps(answer)))

    for seq in range(1, 9):  # the normal case: uploaded, acknowledged within seconds
        invoice = issue(seq * 0.5, seq)
        submit(seq * 0.5 + 0.5, invoice)
        ack(seq * 0.5 + 2, invoice)
    late = issue(1, 20, source_system="erp-shanghai", region_code="310000")
    submit(1.5, late)
    ack(16, late)  # late: > 10s, then resolves the alert
    issue(2, 21)  # the operator never submitted it: probable cause not_submitted
    cut = issue(2.5, 22, source_system="pos-chaoyang")  # network cut on the company's side
    for attempt in (1, 2, 3):
        submit(2.5 + attempt, cut, attempt=attempt,
               transport_error="connect timeout to the platform gateway after 10s")
    rejected = issue(3, 23)
    submit(3.2, rejected)
    ack(4, rejected, status="rejected")
    submit(6.5, rejected, attempt=2)
    ack(7, rejected)  # corrected and resubmitted: resolves the rejection
    wrong = issue(3.5, 24)
    submit(3.8, wrong)
    ack(5, wrong, status="rejected", reason_code="E2041", reason="商品编码与税率不匹配")
    early = sample_issued(seq=25, issued_at=(now + timedelta(seconds=6)).isoformat())
    submit(5.2, early)
    ack(5.5, early)  # the acknowledgement overtakes its invoice
    events.append((6, "invoice.issued", early["invoice_id"].encode(), orjson.dumps(early)))
    events.append((4.5, "invoice.issued", b"bad", b"{\"invoice_id\": \"bad\", truncated"))
    # Issued just before erp-hangzhou's declared maintenance (so its deadline fell inside it),
    # never acknowledged.
    during = sample_issued(seq=26, source_system="erp-hangzhou", region_code="330100",
                           issued_at=(launched - timedelta(seconds=WINDOW_AGO[0] + 5)).isoformat())
    events.append((0.0, "invoice.issued", during["invoice_id"].encode(), orjson.dumps(during)))
    submit(0.0, during)  # uploaded, but the platform side never answered during the window
    return sorted(events, key=lambda e: e[0])


def _explain(alert: dict[str, Any]) -> str:
    scope_value = alert.get("region_code") or alert.get("source_system")
    who = alert.get("invoice_id") or f"{alert.get('scope')}={scope_value}"
    # The message names the probable cause when the alert has one.
    return f"  [{alert['severity']:>8}] {alert['kind']:<10} {who}: {alert.get('message', '')}"


async def _play(bootstrap: str, started: float, launched: datetime) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for at, topic, key, value in _stream(datetime.now(UTC), launched):
            await asyncio.sleep(max(0.0, started + at - time.monotonic()))
            await producer.send_and_wait(topic, value, key=key)
    finally:
        await producer.stop()


async def _watch(bootstrap: str, deadline: float) -> dict[str, int]:
    consumer = AIOKafkaConsumer("invoice.sync.alerts", "invoice.sync.dlq",
                                bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    seen: dict[str, int] = {}
    try:
        while time.monotonic() < deadline and any(
                seen.get(kind, 0) < n for kind, n in EXPECTED.items()):
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                for record in records:
                    if record.topic == "invoice.sync.dlq":
                        reason = dict(record.headers).get("error_reason", b"").decode()
                        print(f"  [dead-letter] {record.value[:40]!r}: {reason}", flush=True)
                        continue
                    alert = orjson.loads(record.value)
                    seen[alert["kind"]] = seen.get(alert["kind"], 0) + 1
                    print(_explain(alert), flush=True)
    finally:
        await consumer.stop()
    return seen


def _show_reconciliation(url: str) -> None:
    """What an operator would ask next: the API's report and pending list."""
    from pipeline.queries import client

    print(f"\n$ invoice-sync report --url {url}")
    client.report(url, sys.stdout, region_code=None, source_system=None, since=None, until=None)
    print(f"\n$ invoice-sync pending --url {url}")
    client.pending(url, sys.stdout, region_code=None, source_system=None, older_than=None,
                   limit=20, cursor=None, all_pages=False)
    sys.stdout.flush()


def run_demo(port: int | None = None) -> int:
    """Run the demo; returns 0 when every expected alert arrived."""
    with tempfile.TemporaryDirectory(prefix="invoice-sync-demo-") as tmp:
        print("starting a local Kafka broker ...", flush=True)
        with running_broker(Path(tmp)) as broker:
            web_port = free_port()
            windows = Path(tmp, "maintenance.yaml")
            launched = datetime.now(UTC)
            _declare_window(windows, launched)
            # The API needs a token even here; the demo's own queries below use it.
            token = secrets.token_urlsafe(24)
            os.environ["INVOICE_SYNC_API_TOKEN"] = token
            env = {**os.environ, "INVOICE_SYNC_BROKER": f"kafka://{broker.bootstrap}",
                   "INVOICE_SYNC_API_TOKENS": f"demo:operator:{token}",
                   "INVOICE_SYNC_WARN_AFTER": f"{WARN_AFTER}s",
                   "INVOICE_SYNC_CRITICAL_AFTER": "120s",
                   "INVOICE_SYNC_DATA_DIR": f"{tmp}/state",
                   "INVOICE_SYNC_WEB_PORT": str(web_port),
                   "INVOICE_SYNC_ADVERTISED_URL": f"http://127.0.0.1:{web_port}",
                   "INVOICE_SYNC_MAINTENANCE_WINDOWS": str(windows),
                   # The uploaders' attempts: alerts name not_submitted, submission_failed...
                   "INVOICE_SYNC_TOPIC_SUBMITTED": "invoice.submitted",
                   "INVOICE_SYNC_LOG_LEVEL": "WARNING"}
            print(f"broker at {broker.bootstrap}; starting the worker (warn_after {WARN_AFTER}s,"
                  f" metrics on http://127.0.0.1:{web_port}/metrics) ...", flush=True)
            worker = WorkerProcess(env, Path(tmp, "worker.log")).start()
            try:
                try:
                    wait_for(worker.ready, 120, "the worker to be ready")
                except (WaitTimeout, WorkerExited) as exc:
                    raise SystemExit(f"{exc}\n{worker.tail()}") from None
                print("worker ready; playing 16s of invoices, uploads and acknowledgements:\n"
                      "  8 acked in time, 1 acked late, 1 never submitted, 1 whose uploads"
                      " failed (network cut), 2 rejected (1 fixed), 1 ack before its invoice,"
                      " 1 malformed, 1 issued during erp-hangzhou's declared maintenance\n",
                      flush=True)
                started = time.monotonic()

                async def both() -> dict[str, int]:
                    _, seen = await asyncio.gather(_play(broker.bootstrap, started, launched),
                                                   _watch(broker.bootstrap, started + 60))
                    return seen

                seen = asyncio.run(both())
                _show_reconciliation(f"http://127.0.0.1:{web_port}")
            finally:
                worker.terminate(60)
        print(f"\nalerts by kind: {seen}; everything stopped.")
    return 0 if all(seen.get(k, 0) >= n for k, n in EXPECTED.items()) else 1
