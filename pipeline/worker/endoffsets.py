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

from faust.types import TP

from pipeline.correlation.watermark import AckWatermarks
from pipeline.logs import get_logger

log = get_logger(__name__)

#: How long one end-offset request may take before the broker counts as lost (seconds).
TIMEOUT = 5.0

EndOffsets = Callable[..., Awaitable[Mapping[Any, int]]]
"""``consumer.highwaters(*tps)``: the end offset of each partition, from the broker."""


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

    async def sample(self, partitions: Iterable[int]) -> bool:
        """Ask for the end offsets of ``partitions``; True if the broker answered."""
        wanted = sorted(set(partitions))
        if not wanted:
            return True
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
