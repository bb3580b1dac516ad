"""Create the worker's topics with the configured partition count, and refuse to run on
input topics whose partition count differs (the correlation needs them co-partitioned)."""

from __future__ import annotations

import asyncio

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from pipeline.kafka_options import aiokafka_options
from pipeline.logs import get_logger
from pipeline.settings import Settings

log = get_logger(__name__)

MAX_MESSAGE_BYTES = 8 * 1024 * 1024
"""Input and dead-letter topics accept records above the 1 MiB contract limit, so an oversized
event reaches the worker and lands on the dead-letter topic instead of failing its producer."""

_LARGE = {"max.message.bytes": str(MAX_MESSAGE_BYTES)}
TOPIC_CONFIGS = {
    "issued": _LARGE,
    "acknowledged": _LARGE,
    "submitted": _LARGE,
    "dlq": _LARGE,
    # The tick topic only carries "check your deadlines now" nudges: keep an hour.
    "ticks": {"retention.ms": str(3600 * 1000), "cleanup.policy": "delete"},
    # The audit trail of operators' actions: kept for ever, never compacted (compaction by
    # invoice id would keep only an invoice's last action). A handful of records a day.
    "actions": {"retention.ms": "-1", "cleanup.policy": "delete"},
    # Observations only count inside the degraded window (minutes); a day covers any lag.
    "evidence": {"retention.ms": str(86400 * 1000), "cleanup.policy": "delete"},
    # The latest declaration of each window id, for ever: a worker reads it whole at start.
    "maintenance": {"cleanup.policy": "compact"},
}


async def _wait_for_leaders(admin: AIOKafkaAdminClient, names: list[str],
                            wait_seconds: float = 30.0) -> dict[str, int]:
    """Partition counts, once every partition of ``names`` has a leader (new topics need a
    moment; producing before that fails with NotLeaderForPartition)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_seconds
    while True:
        described = await admin.describe_topics(names)
        led = all(p["leader"] >= 0 for t in described for p in t["partitions"])
        if (led and not any(t["error_code"] for t in described)) or loop.time() > deadline:
            return {t["topic"]: len(t["partitions"]) for t in described}
        await asyncio.sleep(0.2)


class TopicLayoutError(Exception):
    """An existing topic does not have the partition count the settings demand."""


def topic_names(settings: Settings) -> dict[str, str]:
    """Role -> topic name for every topic the worker uses (``submitted`` only when set)."""
    names = {
        "issued": settings.topic_issued,
        "acknowledged": settings.topic_acknowledged,
        "ticks": settings.topic_ticks,
        "alerts": settings.topic_alerts,
        "dlq": settings.topic_dlq,
        "actions": settings.topic_actions,
        "evidence": settings.topic_evidence,
        "maintenance": settings.topic_maintenance,
    }
    if settings.topic_submitted is not None:
        names["submitted"] = settings.topic_submitted
    return names


async def ensure_topics(settings: Settings) -> dict[str, int]:
    """Create missing topics; return each topic's partition count.

    Raises :class:`TopicLayoutError` when an input topic exists with another partition count.
    """
    admin = AIOKafkaAdminClient(**aiokafka_options(settings), request_timeout_ms=30000)
    await admin.start()
    try:
        names = topic_names(settings)
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(name, settings.partitions, settings.replication_factor,
                     topic_configs=TOPIC_CONFIGS.get(role, {}))
            for role, name in names.items() if name not in existing
        ]
        if missing:
            await admin.create_topics(missing)
            log.info("topics_created", topics=[t.name for t in missing])
        counts = await _wait_for_leaders(admin, list(names.values()))
    finally:
        await admin.close()
    for role in ("issued", "acknowledged", "ticks", "actions", "submitted", "evidence"):
        if role not in names:
            continue
        name = names[role]
        if counts.get(name) != settings.partitions:
            raise TopicLayoutError(
                f"topic {name!r} has {counts.get(name)} partitions but INVOICE_SYNC_PARTITIONS="
                f"{settings.partitions}; input topics must be co-partitioned. Set "
                f"INVOICE_SYNC_PARTITIONS={counts.get(name)} or repartition the topic.")
    return counts
