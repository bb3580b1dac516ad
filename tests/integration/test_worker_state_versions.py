"""A record in a state format this worker cannot read (a newer version's, mid-upgrade) is counted,
logged and left alone: the worker still becomes ready and correlates everything else."""

from __future__ import annotations

import asyncio
import re
import shutil
from datetime import UTC, datetime

import orjson

from pipeline.contracts.samples import sample_issued
from pipeline.correlation.state import FORMAT_VERSION, InvoiceState, encode
from pipeline.worker.store import encode_key
from tests.integration.harness import Stack, wait_for

FUTURE_ID = "24111000000000009999"
#: A record as a worker writing state format 2 would store it.
FUTURE = bytes([FORMAT_VERSION + 1]) + encode(InvoiceState(FUTURE_ID, 0))[1:]


def _isolated(metrics: str) -> float:
    found = re.search(r'^invoice_sync_isolated_total\{reason="undecodable"\} ([0-9.e+]+)$',
                      metrics, re.M)
    return float(found.group(1)) if found else 0.0


def test_a_newer_format_record_is_left_for_a_worker_that_can_read_it(stack: Stack) -> None:
    stack.create_topics()
    worker = stack.worker(WARN_AFTER="3s").wait_ready()  # creates the changelog topic
    worker.terminate()
    changelog = f"{stack.prefix}-invoice-sync-invoices-changelog"
    # Keyed as the batch store keys the table; partition 0 of the changelog.
    asyncio.run(_produce_at(stack, changelog, encode_key(FUTURE_ID), FUTURE))
    shutil.rmtree(stack.tmp / "w1" / "state")  # recover the table from the changelog alone
    valid = sample_issued(seq=7, issued_at=datetime.now(UTC).isoformat())
    stack.produce_events("issued", [valid])

    stack.restart(worker).wait_ready()
    wait_for(lambda: _isolated(worker.metrics()) == 1, 30, "the undecodable record counted")
    alerts = stack.alerts(lambda a: any(x["invoice_id"] == valid["invoice_id"] for x in a))
    assert [a["kind"] for a in alerts] == ["unsynced"]
    status, body = worker.http(f"/invoices/{FUTURE_ID}")
    assert status == 503 and orjson.loads(body)["error"] == "unreadable_record"
    assert "record_undecodable" in worker.tail(400)
    # Untouched: the newest changelog record of that key is still the one written.
    records = stack.read_topic(changelog, lambda rs: any(r.key == encode_key(FUTURE_ID)
                                                          for r in rs))
    assert [r.value for r in records if r.key == encode_key(FUTURE_ID)][-1] == FUTURE


async def _produce_at(stack: Stack, topic: str, key: bytes, value: bytes) -> None:
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=stack.bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(topic, key=key, value=value, partition=0)
    finally:
        await producer.stop()
