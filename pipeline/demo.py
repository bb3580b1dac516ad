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

from pipeline.contracts.samples import sample_ack, sample_issued
from pipeline.localkafka.ports import free_port
from pipeline.localkafka.testing import running_broker
from pipeline.worker.process import WaitTimeout, WorkerExited, WorkerProcess, wait_for

WARN_AFTER = 10
EXPECTED = {"rejected": 2, "unsynced": 4, "resolved": 2}


def _stream(now: datetime) -> list[tuple[float, str, bytes, bytes]]:
    """(seconds from start, topic, key, value): what the billing systems and the platform send."""
    events: list[tuple[float, str, bytes, bytes]] = []

    def issue(at: float, seq: int, **kw: Any) -> dict[str, Any]:
        invoice = sample_issued(seq=seq, issued_at=(now + timedelta(seconds=at)).isoformat(),
                                **kw)
        events.append((at, "invoice.issued", invoice["invoice_id"].encode(),
                       orjson.dumps(invoice)))
        return invoice

    def ack(at: float, invoice: dict[str, Any], **kw: Any) -> None:
        answer = sample_ack(invoice["invoice_id"],
                            acknowledged_at=(now + timedelta(seconds=at)).isoformat(), **kw)
        events.append((at, "invoice.acknowledged", invoice["invoice_id"].encode(),
                       orjson.dumps(answer)))

    for seq in range(1, 9):  # the normal case: acknowledged within seconds
        ack(seq * 0.5 + 2, issue(seq * 0.5, seq))
    ack(16, issue(1, 20, source_system="erp-shanghai", region_code="310000"))  # late: > 10s
    forgotten = issue(2, 21)  # operator never submitted
    issue(2.5, 22, source_system="pos-chaoyang")  # network cut: never reaches the platform
    rejected = issue(3, 23)
    ack(4, rejected, status="rejected")
    ack(7, rejected)  # corrected and resubmitted: resolves the rejection
    wrong = issue(3.5, 24)
    ack(5, wrong, status="rejected", reason_code="E2041", reason="商品编码与税率不匹配")
    early = sample_issued(seq=25, issued_at=(now + timedelta(seconds=6)).isoformat())
    ack(5.5, early)  # the acknowledgement overtakes its invoice
    events.append((6, "invoice.issued", early["invoice_id"].encode(), orjson.dumps(early)))
    events.append((4.5, "invoice.issued", b"bad", b"{\"invoice_id\": \"bad\", truncated"))
    del forgotten
    return sorted(events, key=lambda e: e[0])


def _explain(alert: dict[str, Any]) -> str:
    scope_value = alert.get("region_code") or alert.get("source_system")
    who = alert.get("invoice_id") or f"{alert.get('scope')}={scope_value}"
    return f"  [{alert['severity']:>8}] {alert['kind']:<10} {who}: {alert.get('message', '')}"


async def _play(bootstrap: str, started: float) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for at, topic, key, value in _stream(datetime.now(UTC)):
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
                   "INVOICE_SYNC_LOG_LEVEL": "WARNING"}
            print(f"broker at {broker.bootstrap}; starting the worker (warn_after {WARN_AFTER}s,"
                  f" metrics on http://127.0.0.1:{web_port}/metrics) ...", flush=True)
            worker = WorkerProcess(env, Path(tmp, "worker.log")).start()
            try:
                try:
                    wait_for(worker.ready, 120, "the worker to be ready")
                except (WaitTimeout, WorkerExited) as exc:
                    raise SystemExit(f"{exc}\n{worker.tail()}") from None
                print("worker ready; playing 16s of invoices and acknowledgements:\n"
                      "  8 acked in time, 1 acked late, 2 never acked, 2 rejected (1 fixed),"
                      " 1 ack before its invoice, 1 malformed\n", flush=True)
                started = time.monotonic()

                async def both() -> dict[str, int]:
                    _, seen = await asyncio.gather(_play(broker.bootstrap, started),
                                                   _watch(broker.bootstrap, started + 60))
                    return seen

                seen = asyncio.run(both())
                _show_reconciliation(f"http://127.0.0.1:{web_port}")
            finally:
                worker.terminate(60)
        print(f"\nalerts by kind: {seen}; everything stopped.")
    return 0 if all(seen.get(k, 0) >= n for k, n in EXPECTED.items()) else 1
