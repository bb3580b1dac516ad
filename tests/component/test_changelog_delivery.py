"""faust's producer flush returns with table changes still buffered; the tracker waits for them."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest
from aiokafka.errors import KafkaTimeoutError
from faust.transport.producer import ProducerBuffer

from pipeline.worker.delivery import DeliveryTracker


async def _buffer(hand_over: asyncio.Event) -> ProducerBuffer:
    """A started ProducerBuffer whose hand-over to the Kafka client waits for ``hand_over``."""
    buffer = ProducerBuffer()
    buffer.app = SimpleNamespace(conf=SimpleNamespace(producer_threaded=False))  # type: ignore[assignment]

    async def send_pending(fut: Any) -> None:
        await hand_over.wait()

    buffer._send_pending = send_pending  # type: ignore[method-assign]
    await buffer.start()
    return buffer


async def test_faust_flush_alone_returns_before_the_change_is_delivered() -> None:
    """The root cause (faust 0.15.3 ProducerBuffer.flush_atmost): commit would go ahead."""
    hand_over = asyncio.Event()
    buffer = await _buffer(hand_over)
    change: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    buffer.put(change)
    await asyncio.wait_for(buffer.flush(), timeout=5)
    assert not change.done()
    hand_over.set()
    await buffer.stop()


async def test_the_tracked_flush_waits_for_delivery() -> None:
    hand_over = asyncio.Event()
    buffer = await _buffer(hand_over)
    DeliveryTracker().install(buffer)
    change: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    buffer.put(change)
    flushing = asyncio.create_task(buffer.flush())
    await asyncio.sleep(0.3)
    assert not flushing.done()  # faust's own flush gave up after 0.1 s; this one waits
    hand_over.set()
    asyncio.get_running_loop().call_later(0.05, change.set_result, "metadata")
    await asyncio.wait_for(flushing, timeout=5)
    assert change.done()
    await buffer.stop()


async def test_a_failed_delivery_fails_the_flush_so_nothing_is_committed() -> None:
    hand_over = asyncio.Event()
    hand_over.set()
    buffer = await _buffer(hand_over)
    DeliveryTracker().install(buffer)
    change: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    buffer.put(change)
    asyncio.get_running_loop().call_later(0.05, change.set_exception, KafkaTimeoutError())
    with pytest.raises(KafkaTimeoutError):
        await buffer.flush()
    await buffer.flush()  # reported once; later flushes are not stuck on it
    await buffer.stop()
