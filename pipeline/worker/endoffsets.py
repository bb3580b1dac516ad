"""The watermark's samples: the ack partitions' end offsets, asked of the broker.

The time is read BEFORE the request is sent, so every ack appended to the partition before that
time lies below the answer (docs/watermark.md). A failed request means the broker is lost: no
sample is taken (the watermark stays) and, once a request succeeds again, every watermark is held
for the settle period (INVOICE_SYNC_RECONNECT_SETTLE) so producers' buffered acks can land.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from faust.types import TP

from pipeline.correlation.watermark import AckWatermarks
from pipeline.logs import get_logger

log = get_logger(__name__)

#: How long one end-offset request may take before the broker counts as lost (seconds).
TIMEOUT = 5.0

EndOffsets = Callable[..., Awaitable[Mapping[Any, int]]]
"""``(*tps) -> {tp: end offset}``: the end offset of each partition, from the broker."""


class EndOffsetClient:
    """End offsets asked on a connection of their own (an aiokafka consumer in no group,
    assigned nothing: it only sends ListOffsets to each partition's leader).

    Why not faust's ``consumer.highwaters``: that call is queued to faust's consumer thread
    (two workers, one of them usually in a fetch waiting up to 1 s) and then shares the
    consumer's connection, where the broker answers it only after the fetch in front of it
    (up to ``fetch.max.wait.ms``, 500 ms): 0.5-1.5 s per sample under a live stream, while a
    sample of its own takes a round trip (docs/watermark.md). The end offset is the same:
    the partition leader's high watermark (read_uncommitted, as the worker's consumer).
    """

    def __init__(self, options: Mapping[str, Any]) -> None:
        self._options = dict(options)
        self._consumer: AIOKafkaConsumer | None = None
        self._starting = asyncio.Lock()
        self._stopped = False

    async def __call__(self, *tps: TP) -> Mapping[TP, int]:
        consumer = await self._started()
        ends = await consumer.end_offsets([TopicPartition(tp.topic, tp.partition)
                                           for tp in tps])
        return {TP(tp.topic, tp.partition): end for tp, end in ends.items()}

    async def _started(self) -> AIOKafkaConsumer:
        async with self._starting:
            if self._stopped:
                raise RuntimeError("the end-offset client is stopped")
            if self._consumer is None:
                consumer = AIOKafkaConsumer(enable_auto_commit=False, **self._options)
                try:
                    await consumer.start()
                except BaseException:
                    await consumer.stop()
                    raise
                self._consumer = consumer
            return self._consumer

    async def stop(self) -> None:
        self._stopped = True
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            await consumer.stop()


class EndOffsetSampler:
    """Takes samples of the ack partitions' end offsets for :class:`AckWatermarks`."""

    def __init__(self, watermarks: AckWatermarks, end_offsets: EndOffsets, *, topic: str,
                 settle: float, timeout: float = TIMEOUT,
                 clock: Callable[[], float] = time.time) -> None:
        self.watermarks = watermarks
        self._end_offsets = end_offsets
        self.topic = topic
        self.settle = settle
        self.timeout = timeout
        self.clock = clock
        #: Partitions asked for by :meth:`request` and not yet in a request sent.
        self._wanted: set[int] = set()
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    def request(self, partitions: Iterable[int]) -> None:
        """Have ``partitions`` sampled soon, in the background: the caller (the agent) does
        not wait for the broker's answer. Requests made while one is in flight are sent
        together once it is answered (each sample's time is read before its own request)."""
        if self._closed:
            return
        self._wanted.update(partitions)
        if self._wanted and (self._task is None or self._task.done()):
            self._task = asyncio.ensure_future(self._sample_wanted())

    async def _sample_wanted(self) -> None:
        while self._wanted and not self._closed:
            wanted, self._wanted = self._wanted, set()
            await self.sample(wanted)

    async def close(self) -> None:
        """Stop sampling in the background (worker shutdown)."""
        self._closed = True
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def sample(self, partitions: Iterable[int]) -> bool:
        """Ask for the end offsets of ``partitions``; True if the broker answered."""
        wanted = sorted(set(partitions))
        if not wanted or self._closed:
            return not wanted
        at = self.clock()  # before the request: the proof needs it
        try:
            ends = await asyncio.wait_for(
                self._end_offsets(*(TP(self.topic, p) for p in wanted)), timeout=self.timeout)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # aiokafka errors, the timeout, the consumer restarting
            if self.watermarks.broker_lost(at):
                log.warning("broker_lost", error=repr(exc)[:200])
            return False
        settle_until = self.watermarks.broker_reached(at, settle=self.settle, now=self.clock())
        if settle_until is not None:
            log.warning("broker_regained", settle_seconds=self.settle, settle_until=settle_until)
        for tp, end in ends.items():
            if tp.partition in wanted:
                self.watermarks.sample(tp.partition, at, end)
        return True
