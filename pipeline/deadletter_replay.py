"""``invoice-sync dlq replay``: re-publish chosen dead letters to their source topic after a fix.

Reads the dead-letter topic (``INVOICE_SYNC_TOPIC_DLQ``, broker and credentials from the usual
settings) from its start up to the end offsets seen when the command starts, without a consumer
group, and picks the records whose provenance headers match the selection (source topic, source
partition and offset range, reason). Each is produced to its source topic with its original
key, value, headers and timestamp (the provenance headers removed, ``dlq_replayed_from`` added
so a replayed record can be traced). ``--dry-run`` lists what would be replayed and produces
nothing. Only the worker's input topics are accepted as targets.

Replaying is safe to repeat: the worker deduplicates events by ``event_id``. A record that is
still defective is dead-lettered again, with the same original headers.
"""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass
from typing import Any, TextIO

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from pipeline.kafka_options import aiokafka_options
from pipeline.settings import Settings
from pipeline.topics import MAX_MESSAGE_BYTES
from pipeline.worker.deadletter import header, replay_headers

REPLAYED_FROM = "dlq_replayed_from"
ASSIGNMENT_WAIT = 15.0


@dataclass(frozen=True, slots=True)
class Selection:
    """Which dead letters to replay; None matches anything."""

    source_topic: str | None = None
    source_partition: int | None = None
    from_offset: int | None = None
    to_offset: int | None = None
    reason: str | None = None

    def matches(self, headers: list[tuple[str, bytes]]) -> bool:
        topic = header(headers, "source_topic")
        if topic is None or (self.source_topic is not None and topic != self.source_topic):
            return False
        if self.reason is not None and header(headers, "error_reason") != self.reason:
            return False
        try:
            partition = int(header(headers, "source_partition") or "")
            offset = int(header(headers, "source_offset") or "")
        except ValueError:
            return False
        if self.source_partition is not None and partition != self.source_partition:
            return False
        if self.from_offset is not None and offset < self.from_offset:
            return False
        return self.to_offset is None or offset <= self.to_offset


@dataclass(frozen=True, slots=True)
class Chosen:
    """One dead letter to replay."""

    dlq_partition: int
    dlq_offset: int
    target: str
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]]
    timestamp_ms: int | None
    reason: str


async def choose(settings: Settings, selection: Selection) -> list[Chosen]:
    """The matching dead letters, in dead-letter topic order per partition."""
    # Subscribed without a group: every partition is assigned to us, nothing is committed.
    consumer = AIOKafkaConsumer(settings.topic_dlq, **aiokafka_options(settings),
                                enable_auto_commit=False, auto_offset_reset="earliest",
                                group_id=None, fetch_max_bytes=MAX_MESSAGE_BYTES + 65536,
                                max_partition_fetch_bytes=MAX_MESSAGE_BYTES + 65536)
    await consumer.start()
    chosen: list[Chosen] = []
    try:
        for _ in range(int(ASSIGNMENT_WAIT / 0.1)):
            if consumer.assignment():  # the topic's metadata arrives shortly after start
                break
            await asyncio.sleep(0.1)
        tps = sorted(consumer.assignment())
        if not tps:
            raise SystemExit(f"invoice-sync dlq replay: topic {settings.topic_dlq!r} not found")
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        remaining = {tp for tp in tps if ends[tp] > 0}
        while remaining:
            batch = await consumer.getmany(*remaining, timeout_ms=1000)
            for tp, records in batch.items():
                for record in records:
                    if record.offset >= ends[tp]:
                        continue
                    headers = [(k, bytes(v or b"")) for k, v in record.headers]
                    if selection.matches(headers):
                        chosen.append(_chosen(tp.partition, record, headers))
            for tp in list(remaining):
                if await consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
    finally:
        await consumer.stop()
    return chosen


def _chosen(partition: int, record: Any, headers: list[tuple[str, bytes]]) -> Chosen:
    source = (f"{record.topic}/{partition}/{record.offset}").encode()
    return Chosen(partition, record.offset, header(headers, "source_topic") or "",
                  record.key, record.value, [*replay_headers(headers), (REPLAYED_FROM, source)],
                  record.timestamp, header(headers, "error_reason") or "")


async def publish(settings: Settings, chosen: list[Chosen]) -> None:
    """Produce every chosen record to its source topic and wait for the broker's acks."""
    producer = AIOKafkaProducer(**aiokafka_options(settings), acks="all",
                                enable_idempotence=True,
                                max_request_size=MAX_MESSAGE_BYTES + 65536)
    await producer.start()
    try:
        sent = [await producer.send(c.target, value=c.value, key=c.key, headers=c.headers,
                                    timestamp_ms=c.timestamp_ms) for c in chosen]
        await asyncio.gather(*sent)
    finally:
        await producer.stop()


def run_replay(settings: Settings, selection: Selection, *, dry_run: bool,
               out: TextIO | None = None) -> int:
    """The command: 0 done (or nothing matched), 2 a dead letter names a topic not ours.

    ``out`` defaults to the ``sys.stdout`` of the call, not of the import: a default bound at
    import time keeps writing to whatever stream was current then (pytest's capture, a closed pipe).
    """
    out = sys.stdout if out is None else out
    chosen = asyncio.run(choose(settings, selection))
    inputs = {settings.topic_issued, settings.topic_acknowledged}
    foreign = sorted({c.target for c in chosen} - inputs)
    if foreign:
        print(f"invoice-sync dlq replay: refusing: dead letters name topics that are not this "
              f"worker's inputs: {foreign}; narrow the selection with --source-topic",
              file=sys.stderr)
        return 2
    verb = "would replay" if dry_run else "replaying"
    for c in chosen:
        out.write(f"{verb} {settings.topic_dlq}/{c.dlq_partition}@{c.dlq_offset} -> {c.target} "
                  f"key={(c.key or b'').decode('utf-8', 'replace')} reason={c.reason}\n")
    if not dry_run and chosen:
        asyncio.run(publish(settings, chosen))
    out.write(f"{len(chosen)} dead letter(s) {'would be ' if dry_run else ''}replayed\n")
    return 0
