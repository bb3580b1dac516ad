"""Asking a broker for metadata: the sign that it serves clients."""

from __future__ import annotations

import asyncio
import logging

from aiokafka.client import AIOKafkaClient
from aiokafka.errors import KafkaError

from pipeline.localkafka.server_properties import NODE_ID


def broker_answers(bootstrap: str, timeout: float = 5.0) -> bool:
    """Whether the broker at ``bootstrap`` answers a metadata request within ``timeout``.

    Runs its own event loop, so call it from synchronous code only.
    """
    aiokafka_log = logging.getLogger("aiokafka")
    previous = aiokafka_log.level
    # A broker that is still starting refuses or stalls; aiokafka would log each failed try.
    aiokafka_log.setLevel(logging.CRITICAL)
    try:
        return asyncio.run(_answers(bootstrap, timeout_s=timeout))
    finally:
        aiokafka_log.setLevel(previous)


async def _answers(bootstrap: str, *, timeout_s: float) -> bool:
    timeout_ms = max(int(timeout_s * 1000), 100)
    client = AIOKafkaClient(
        bootstrap_servers=bootstrap,
        request_timeout_ms=timeout_ms,
        connections_max_idle_ms=timeout_ms + 1000,
    )
    try:
        async with asyncio.timeout(timeout_s):
            await client.bootstrap()
        # A broker lists itself once it is registered and unfenced.
        return NODE_ID in {broker.nodeId for broker in client.cluster.brokers()}
    except (TimeoutError, OSError, KafkaError):
        return False
    finally:
        await client.close()
