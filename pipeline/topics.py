"""Create the worker's topics with the configured partition count, and refuse to run on
input topics whose partition count differs (the correlation needs them co-partitioned)."""

from __future__ import annotations

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from pipeline.kafka_options import aiokafka_options
from pipeline.logs import get_logger
from pipeline.settings import Settings

log = get_logger(__name__)

TOPIC_CONFIGS = {
    # The tick topic only carries "check your deadlines now" nudges: keep an hour.
    "ticks": {"retention.ms": str(3600 * 1000), "cleanup.policy": "delete"},
}


class TopicLayoutError(Exception):
    """An existing topic does not have the partition count the settings demand."""


def topic_names(settings: Settings) -> dict[str, str]:
    """Role -> topic name for every topic the worker uses."""
    return {
        "issued": settings.topic_issued,
        "acknowledged": settings.topic_acknowledged,
        "ticks": settings.topic_ticks,
        "alerts": settings.topic_alerts,
        "dlq": settings.topic_dlq,
    }


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
        described = await admin.describe_topics(list(names.values()))
        counts = {t["topic"]: len(t["partitions"]) for t in described}
    finally:
        await admin.close()
    for role in ("issued", "acknowledged", "ticks"):
        name = names[role]
        if counts.get(name) != settings.partitions:
            raise TopicLayoutError(
                f"topic {name!r} has {counts.get(name)} partitions but INVOICE_SYNC_PARTITIONS="
                f"{settings.partitions}; input topics must be co-partitioned. Set "
                f"INVOICE_SYNC_PARTITIONS={counts.get(name)} or repartition the topic.")
    return counts
