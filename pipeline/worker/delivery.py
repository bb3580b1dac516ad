"""Offsets are committed only after the table writes they cover reached the changelog.

faust writes a table change with ``send_soon``: the changelog record goes into the producer's
``ProducerBuffer`` and a background task hands it to aiokafka later. Before committing offsets
faust calls ``producer.flush()``, which is meant to drain that buffer, but
``ProducerBuffer.flush_atmost`` (faust 0.15.3, faust/transport/producer.py:78-94) waits at most
0.1 s for the next message to be handed over and then *returns*, with records still buffered
(or still in the hand-over, which has already left the queue), so aiokafka's own flush does not
see them either. The offset is then committed (faust/transport/consumer.py:1073-1074) while the
change it stands for is only in this process: a SIGKILL or crash after the commit loses it from
the changelog, which is how a rebalance "lost" accepted acks and issued invoices (issue 10).

:class:`DeliveryTracker` keeps every future faust puts into the buffer and makes the buffer's
``flush`` also wait until each of them is delivered (faust resolves a ``FutureMessage`` when the
broker acknowledges it, or fails it). A failed delivery fails the flush, so the commit fails and
the offsets stay where they were (the events are processed again: at-least-once).
"""

from __future__ import annotations

import asyncio
from typing import Any

#: Above this many tracked futures, delivered ones are pruned as new ones arrive.
PRUNE_AT = 4096


class DeliveryTracker:
    """Tracks what was put into faust's producer buffer and waits for its delivery."""

    def __init__(self) -> None:
        self._pending: list[asyncio.Future[Any]] = []
        self.installed = False

    def install(self, buffer: Any) -> None:
        """Wrap ``buffer.put`` and ``buffer.flush`` (a faust ``ProducerBuffer``) in place."""
        if self.installed:
            return
        put, flush = buffer.put, buffer.flush

        def tracked_put(fut: asyncio.Future[Any]) -> None:
            self.track(fut)
            put(fut)

        async def flush_delivered() -> None:
            await flush()
            await self.delivered()

        buffer.put = tracked_put
        buffer.flush = flush_delivered
        self.installed = True

    def track(self, fut: asyncio.Future[Any]) -> None:
        """Remember ``fut`` until it is delivered."""
        if len(self._pending) >= PRUNE_AT:
            self._pending = [f for f in self._pending if not f.done()]
        self._pending.append(fut)

    async def delivered(self) -> None:
        """Return once everything tracked so far is delivered; raise if a delivery failed."""
        pending, self._pending = self._pending, []
        try:
            await asyncio.gather(*(f for f in pending if not f.done()))
        finally:
            # A later flush waits again for what is still in flight.
            self._pending = [f for f in pending if not f.done()] + self._pending
        for fut in pending:
            if not fut.cancelled() and fut.exception() is not None:
                raise fut.exception()  # type: ignore[misc]
