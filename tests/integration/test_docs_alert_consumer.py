"""docs/alerts.md's Python consumer, run as written against the real broker: it handles each
alert once (a redelivered alert_id is skipped), skips kinds it does not know, and commits past
everything it read."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import uuid
from pathlib import Path

import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import GroupCoordinatorNotAvailableError

from pipeline.correlation.alerts import Alert
from pipeline.worker.process import wait_for
from pipeline.worker.wire import alert_headers, alert_source, alert_to_json
from tests.integration.harness import Stack

ROOT = Path(__file__).resolve().parents[2]
ALERTS_DOC = ROOT / "docs" / "alerts.md"


def alert(alert_id: str, kind: str, severity: str) -> Alert:
    return Alert(
        alert_id=alert_id, kind=kind, severity=severity,  # type: ignore[arg-type]
        invoice_id="24111000000000000042", region_code="110000", source_system="erp-a",
        seller_tax_id=None, issued_at=None, deadline_at=None, detected_at=1_764_547_200.0,
        age_seconds=None, reason_code=None, reason=None, latency_seconds=None,
        resolved_alert_ids=("a-unsynced",) if kind == "resolved" else (), scope=None,
        unsynced_count=None, due_count=None, window_seconds=None, message=f"{kind} alert")


def records() -> list[tuple[bytes, bytes, list[tuple[str, bytes]]]]:
    source = alert_source("invoice-sync")
    unsynced = alert("a-unsynced", "unsynced", "warning")
    resolved = alert("a-resolved", "resolved", "info")
    out = [(b"24111000000000000042", alert_to_json(a), alert_headers(a, source))
           for a in (unsynced, unsynced, resolved)]  # the second: an at-least-once repeat
    # A kind from a later schema version: consumers must skip it, not fail.
    future = orjson.loads(alert_to_json(unsynced)) | {"alert_id": "a-future", "kind": "escalated"}
    out.append((b"24111000000000000042", orjson.dumps(future), alert_headers(unsynced, source)))
    return out


def produce(bootstrap: str, topic: str) -> None:
    async def send() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
        await producer.start()
        try:
            for key, value, headers in records():
                await producer.send_and_wait(topic, value=value, key=key, headers=headers)
        finally:
            await producer.stop()
    asyncio.run(send())


def committed(bootstrap: str, group: str) -> int:
    """Sum of the group's committed offsets."""
    async def read() -> int:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            offsets = await admin.list_consumer_group_offsets(group)
        except GroupCoordinatorNotAvailableError:
            return 0  # the consumer has not joined yet (or the offsets topic is being created)
        else:
            return sum(meta.offset for meta in offsets.values() if meta.offset > 0)
        finally:
            await admin.close()
    return asyncio.run(read())


def test_the_documented_consumer_handles_each_alert_once(stack: Stack, tmp_path: Path) -> None:
    [example] = re.findall(r"```python\n(.*?)```", ALERTS_DOC.read_text(encoding="utf-8"),
                           flags=re.DOTALL)
    topic, group = stack.topics["alerts"], f"docs-{uuid.uuid4().hex[:8]}"
    program = (example.replace('"invoice.sync.alerts"', repr(topic))
               .replace('"localhost:9092"', repr(stack.bootstrap))
               .replace('"finance-alerts"', repr(group)))
    assert program.count(repr(topic)) == program.count(repr(group)) == 1, "example changed"
    (tmp_path / "consumer.py").write_text(program, encoding="utf-8")
    stack.create_topics()
    produce(stack.bootstrap, topic)

    log, errors = tmp_path / "consumer.out", tmp_path / "consumer.err"
    with log.open("w") as out, errors.open("w") as err:
        consumer = subprocess.Popen([sys.executable, str(tmp_path / "consumer.py")],
                                    stdout=out, stderr=err, cwd=tmp_path)
    try:
        wait_for(lambda: consumer.poll() is not None or committed(stack.bootstrap, group),
                 60, "the example to commit what it read")
        wait_for(lambda: consumer.poll() is not None
                 or committed(stack.bootstrap, group) == 4, 30,
                 "the example to commit past all 4 records")
        assert consumer.poll() is None, f"the example exited:\n{errors.read_text()}"
    finally:
        consumer.terminate()
        consumer.wait(timeout=30)
    handled = log.read_text().splitlines()
    assert handled == ["unsynced warning 24111000000000000042 unsynced alert",
                       "resolved info 24111000000000000042 resolved alert"], handled
