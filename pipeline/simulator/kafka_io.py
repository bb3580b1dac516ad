"""The thin Kafka adapter: produce a timeline on schedule, read alerts and dead letters back."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from pipeline.kafka_options import aiokafka_options
from pipeline.settings import Settings
from pipeline.topics import ensure_topics

from .progress import Progress
from .timeline import Item, TimedRecord
from .truth import DeadLetterTruth, InvoiceTruth

MAX_REQUEST_BYTES = 4 * 1024 * 1024  # oversized (> 1 MiB) records must reach the dead-letter path
_IN_FLIGHT = 1000
START_MARGIN = 0.2
"""The run starts this long after the producer connected (seconds)."""
READ_BACK_SECONDS = 60.0
"""Alerts are read from this long before the run's start (clock differences, early alerts)."""


@dataclass(slots=True)
class ProduceStats:
    """What :func:`produce` did."""

    first_at: float
    records: int = 0
    invoices: int = 0
    dead_letters: int = 0
    last_record_at: float = 0.0
    max_lag: float = 0.0


async def produce(
    settings: Settings,
    plan: Callable[[float], Iterable[Item]],
    on_truth: Callable[[InvoiceTruth | DeadLetterTruth], None],
    progress: Progress,
) -> ProduceStats:
    """Send each record of ``plan(start)`` when its time comes (keyed by invoice id), and hand
    its truth to ``on_truth``. ``start`` is taken once the producer is connected, so a slow
    start-up does not put the run behind schedule.

    Records are sent without waiting for each acknowledgement, at most ``_IN_FLIGHT`` at a
    time; ``max_lag`` is how far behind schedule the slowest record was sent.
    """
    topics = {"issued": settings.topic_issued, "acknowledged": settings.topic_acknowledged}
    if settings.topic_submitted is not None:
        topics["submitted"] = settings.topic_submitted
    producer = AIOKafkaProducer(**aiokafka_options(settings), acks="all", linger_ms=5,
                                max_request_size=MAX_REQUEST_BYTES)
    await producer.start()
    stats = ProduceStats(first_at=time.time() + START_MARGIN)
    in_flight: list[asyncio.Future[Any]] = []
    try:
        for item in plan(stats.first_at):
            if not isinstance(item, TimedRecord):
                on_truth(item)
                if isinstance(item, InvoiceTruth):
                    stats.invoices += 1
                else:
                    stats.dead_letters += 1
                continue
            delay = item.at - time.time()
            if delay > 0:
                await asyncio.sleep(delay)  # pacing to the schedule, not waiting on a condition
            stats.max_lag = max(stats.max_lag, -delay)
            in_flight.append(await producer.send(topics[item.role], item.value, key=item.key))
            if len(in_flight) >= _IN_FLIGHT:
                await asyncio.gather(*in_flight)
                in_flight.clear()
            stats.last_record_at = item.at
            stats.records += 1
            progress.update(stats.invoices, stats.records, stats.max_lag)
        await asyncio.gather(*in_flight)
        progress.update(stats.invoices, stats.records, stats.max_lag, force=True)
    finally:
        progress.close()
        await producer.stop()
    return stats


@dataclass(slots=True)
class Outcomes:
    """Alerts (decoded) and dead letters ((key, error_reason)) read back."""

    alerts: list[dict[str, Any]]
    dead_letters: list[tuple[str | None, str]]
    undecodable: int = 0


async def read_outcomes(settings: Settings, since: float, until: float) -> Outcomes:
    """Read the alert and dead-letter topics from ``since`` (epoch seconds, less
    ``READ_BACK_SECONDS``) until the clock passes ``until``, then up to the end offsets."""
    counts = await ensure_topics(settings)  # as the worker would; also the partition counts
    consumer = AIOKafkaConsumer(**aiokafka_options(settings), enable_auto_commit=False)
    await consumer.start()
    outcomes = Outcomes([], [])
    try:
        partitions = [TopicPartition(topic, p) for topic in (settings.topic_alerts,
                                                              settings.topic_dlq)
                      for p in range(counts[topic])]
        consumer.assign(partitions)
        starts = await consumer.offsets_for_times(
            {tp: int((since - READ_BACK_SECONDS) * 1000) for tp in partitions})
        # No record since then: start at the current end (an explicit offset; seek_to_end
        # would resolve lazily, possibly after the first alerts were appended).
        ends = await consumer.end_offsets(partitions)
        for tp in partitions:
            found = starts.get(tp)
            consumer.seek(tp, ends[tp] if found is None else found.offset)
        while time.time() < until:
            await _take(consumer, outcomes, settings,
                        wait_ms=int(1000 * min(1.0, until - time.time())))
        ends = await consumer.end_offsets(partitions)
        deadline = time.monotonic() + 30
        while [tp for tp in partitions if await consumer.position(tp) < ends[tp]]:
            if time.monotonic() > deadline:
                raise TimeoutError("could not read the alert topics up to their end offsets")
            await _take(consumer, outcomes, settings, wait_ms=500)
    finally:
        await consumer.stop()
    return outcomes


async def _take(consumer: AIOKafkaConsumer, outcomes: Outcomes, settings: Settings,
                wait_ms: int) -> None:
    batch = await consumer.getmany(timeout_ms=max(1, wait_ms))
    for tp, records in batch.items():
        for record in records:
            if tp.topic == settings.topic_dlq:
                headers = {k: v.decode("utf-8", "replace") for k, v in record.headers}
                try:
                    key = None if record.key is None else record.key.decode("utf-8")
                except UnicodeDecodeError:
                    key = None
                outcomes.dead_letters.append((key, headers.get("error_reason", "")))
                continue
            try:
                alert = orjson.loads(record.value)
            except orjson.JSONDecodeError:
                outcomes.undecodable += 1
                continue
            if isinstance(alert, dict):
                outcomes.alerts.append(alert)
            else:
                outcomes.undecodable += 1
