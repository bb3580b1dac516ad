"""Asking a broker for metadata: the sign that it serves clients."""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor

from aiokafka.client import AIOKafkaClient
from aiokafka.errors import KafkaError

from pipeline.localkafka.server_properties import NODE_ID


def broker_answers(bootstrap: str, timeout: float = 5.0) -> bool:
    """Whether the broker at ``bootstrap`` answers a metadata request within ``timeout``.

    Runs its own event loop: in a worker thread when the caller's thread already runs one (an
    async test or fixture), which then blocks until the answer.
    """
    aiokafka_log = logging.getLogger("aiokafka")
    previous = aiokafka_log.level
    # A broker that is still starting refuses or stalls; aiokafka would log each failed try.
    aiokafka_log.setLevel(logging.CRITICAL)
    try:
        if not _loop_running():
            return asyncio.run(_answers(bootstrap, timeout_s=timeout))
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="kafka-probe") as worker:
            return worker.submit(asyncio.run, _answers(bootstrap, timeout_s=timeout)).result()
    finally:
        aiokafka_log.setLevel(previous)


def _loop_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


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
