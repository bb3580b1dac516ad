"""Reading from the broker: the baseline consumer (figure a) and the alert reader (figure d)."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime

import orjson
from aiokafka import AIOKafkaConsumer


async def baseline(bootstrap: str, topics: list[str], total: int, group: str) -> float:
    """Seconds a plain aiokafka consumer (getmany + orjson) takes to read and decode ``total``
    records of ``topics`` from the start, counted from ``start()`` (group join included)."""
    consumer = AIOKafkaConsumer(*topics, bootstrap_servers=bootstrap, group_id=group,
                                auto_offset_reset="earliest", enable_auto_commit=False)
    started = time.monotonic()
    await consumer.start()
    read = 0
    try:
        while read < total:
            batch = await consumer.getmany(timeout_ms=500, max_records=10000)
            for records in batch.values():
                for record in records:
                    orjson.loads(record.value)
                read += len(records)
        return time.monotonic() - started
    finally:
        await consumer.stop()


async def read_alerts(bootstrap: str, topic: str, done: Callable[[list[dict[str, object]]], bool],
                      wait_seconds: float) -> list[dict[str, object]]:
    """Alert events of ``topic`` from the start until ``done(alerts)``; raises on timeout."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap,
                                auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    alerts: list[dict[str, object]] = []
    deadline = time.monotonic() + wait_seconds
    try:
        while not done(alerts):
            if time.monotonic() > deadline:
                raise TimeoutError(f"timed out after {wait_seconds:.0f}s reading alerts; "
                                   f"got {len(alerts)}")
            batch = await consumer.getmany(timeout_ms=200)
            for records in batch.values():
                alerts.extend(orjson.loads(record.value) for record in records)
    finally:
        await consumer.stop()
    return alerts


def lateness(alert: dict[str, object]) -> float:
    """detected_at minus deadline_at of an alert, in seconds."""
    detected = datetime.fromisoformat(str(alert["detected_at"]))
    deadline = datetime.fromisoformat(str(alert["deadline_at"]))
    return (detected - deadline).total_seconds()


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile (``share`` in 0..1) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, -(-int(share * 1000) * len(ordered) // 1000))
    return ordered[min(len(ordered), rank) - 1]
