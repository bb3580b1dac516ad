"""The benchmark's events: a pre-produced backlog and a paced live stream, valid and realistic.

Backlog: ``pending`` invoices that are never acknowledged (they stay pending, for the memory and
recovery figures) plus an acknowledged share (issued + accepted ack). Their deadlines use the
long default WARN_AFTER, so nothing alerts while the backlog is processed. The live stream uses
its own region (``LIVE_REGION``), whose SLA rule has a short warning threshold; a share of its
invoices is never acknowledged and each of those raises exactly one ``unsynced`` warning.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson
from aiokafka import AIOKafkaProducer

from pipeline.contracts.samples import sample_ack, sample_issued, sample_uscc

BACKLOG_REGIONS = ("110000", "310000", "440100", "330100", "510100", "420100")
SOURCE_SYSTEMS = ("erp-beijing", "erp-shanghai", "pos-guangzhou", "sap-hangzhou", "billing-cd")
LIVE_REGION = "440300"
SELLERS = tuple(sample_uscc(f"9111010{i}MA01AB2C0") for i in range(8))
#: Live invoice numbers start here, so they never collide with the backlog's.
LIVE_SEQ_BASE = 10**12


@dataclass(frozen=True)
class Topics:
    """The input topics the benchmark produces to."""

    issued: str
    acknowledged: str


def _stamp(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat()


def issued_record(seq: int, issued_at: str, region: str) -> tuple[bytes, bytes]:
    """(key, value) of a valid invoice.issued event; ``seq`` picks the invoice number."""
    event = sample_issued(
        seq=seq, issued_at=issued_at, region_code=region,
        source_system=SOURCE_SYSTEMS[seq % len(SOURCE_SYSTEMS)],
        seller_tax_id=SELLERS[seq % len(SELLERS)], amount=f"{100 + seq % 900}.00",
        tax_amount="13.00", total_amount=f"{113 + seq % 900}.00")
    return event["invoice_id"].encode(), orjson.dumps(event)


def ack_record(invoice_id: str, acknowledged_at: str) -> tuple[bytes, bytes]:
    """(key, value) of an acceptance of ``invoice_id``."""
    return invoice_id.encode(), orjson.dumps(sample_ack(invoice_id,
                                                        acknowledged_at=acknowledged_at))


def backlog(pending: int, acked: int, now: float) -> Iterator[tuple[str, bytes, bytes]]:
    """(role, key, value) of the backlog: ``pending`` unacked invoices, ``acked`` acked ones,
    the acked ones spread evenly, each ack right after its invoice."""
    issued_at, acked_at = _stamp(now), _stamp(now + 1)
    total = pending + acked
    for seq in range(total):
        key, value = issued_record(seq, issued_at, BACKLOG_REGIONS[seq % len(BACKLOG_REGIONS)])
        yield "issued", key, value
        if (seq * acked) % total < acked:  # exactly ``acked`` of the ``total`` sequence numbers
            yield "acknowledged", *ack_record(key.decode(), acked_at)


async def produce(bootstrap: str, topics: Topics,
                  records: Iterator[tuple[str, bytes, bytes]]) -> int:
    """Produce every record (batched, all acked by the broker); returns how many."""
    names = {"issued": topics.issued, "acknowledged": topics.acknowledged}
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=20,
                                max_batch_size=512 * 1024)
    await producer.start()
    count = 0
    try:
        inflight: list[asyncio.Future[object]] = []
        for role, key, value in records:
            inflight.append(await producer.send(names[role], value=value, key=key))
            count += 1
            if len(inflight) >= 20000:
                await asyncio.gather(*inflight)
                inflight.clear()
        await asyncio.gather(*inflight)
    finally:
        await producer.stop()
    return count


@dataclass
class LiveResult:
    """What the live phase produced: the invoices that must each raise one warning."""

    unacked: set[str]
    events: int
    seconds: float
    #: Wall-clock end of the paced stream: deadlines after it met a quiet topic (ticks only).
    sustained_until: float = 0.0


async def play_live(bootstrap: str, topics: Topics, *, rate: float, seconds: float,
                    unacked_share: float, ack_delay: float = 0.5) -> LiveResult:
    """Issue invoices now at ``rate`` events/s (issued + acks) for ``seconds``.

    Each acknowledged invoice gets its acceptance ``ack_delay`` seconds after issue. Pacing is
    checked every 10 ms, so the rate holds as long as the producer keeps up.
    """
    rng = random.Random(6)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    unacked: set[str] = set()
    due_acks: deque[tuple[float, str]] = deque()
    events, seq = 0, LIVE_SEQ_BASE
    started = time.monotonic()
    try:
        while (elapsed := time.monotonic() - started) < seconds:
            target = int(elapsed * rate)
            while events < target:
                if due_acks and due_acks[0][0] <= elapsed:
                    _, invoice_id = due_acks.popleft()
                    key, value = ack_record(invoice_id, _stamp(time.time()))
                    await producer.send(topics.acknowledged, value=value, key=key)
                else:
                    seq += 1
                    key, value = issued_record(seq, _stamp(time.time()), LIVE_REGION)
                    await producer.send(topics.issued, value=value, key=key)
                    if rng.random() < unacked_share:
                        unacked.add(key.decode())
                    else:
                        due_acks.append((elapsed + ack_delay, key.decode()))
                events += 1
            await asyncio.sleep(0.01)
        sustained_until = time.time()
        for due, invoice_id in due_acks:  # the acks still owed, at their time
            await asyncio.sleep(max(0.0, started + due - time.monotonic()))
            key, value = ack_record(invoice_id, _stamp(time.time()))
            await producer.send(topics.acknowledged, value=value, key=key)
            events += 1
        await producer.flush()
    finally:
        await producer.stop()
    return LiveResult(unacked, events, time.monotonic() - started, sustained_until)

