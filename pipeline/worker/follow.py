"""Read a topic whole, from its beginning and then as it grows, outside the consumer group.

For what every worker must know in full whichever partitions it owns: the scope ledgers
(ledger_view.py) and the declared maintenance windows (declared.py), both compacted topics with
one latest record per key. No partition is assigned to this consumer by the group and it commits
nothing; a restart reads the topic again from the beginning.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from pipeline.logs import get_logger

log = get_logger(__name__)

#: Wait before reading again after an error.
RETRY_SECONDS = 1.0

Apply = Callable[[bytes | None, bytes | None], None]
"""Takes one record's key and value (None: a tombstone)."""


async def follow(apply: Apply, topic: str, partitions: int, options: dict[str, Any]) -> None:
    """Feed every record of ``topic`` (``partitions`` partitions, existing before this starts) to
    ``apply``, for as long as the worker runs; reconnects after errors."""
    tps = [TopicPartition(topic, p) for p in range(partitions)]
    while True:
        consumer = AIOKafkaConsumer(**options, group_id=None, enable_auto_commit=False,
                                    auto_offset_reset="earliest")
        try:
            await consumer.start()
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            log.info("topic_followed", topic=topic, partitions=partitions)
            while True:
                fetched = await consumer.getmany(timeout_ms=500)
                for records in fetched.values():
                    for record in records:
                        apply(record.key, record.value)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("topic_follow_restarted", topic=topic, error=repr(exc)[:500])
            await asyncio.sleep(RETRY_SECONDS)
        finally:
            await consumer.stop()
