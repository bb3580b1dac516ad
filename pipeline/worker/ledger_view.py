"""Every worker's read-only view of all scope ledgers: what a probable cause looks up.

The owner of a scope's ledger (pipeline/worker/ledgers.py) writes it to a faust table; the
table's changelog is a compacted topic holding the latest ledger of every scope. Each worker
reads that changelog whole, from the beginning and then as it grows, with a consumer of its own
outside the group (no partition is assigned to it, nothing is committed), and keeps the latest
ledger per key in memory (a few hundred bytes per scope value). A worker that just started
answers from what it has read so far: until the view has caught up, causes that need scope
evidence fall back to what the invoice's own record decides.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from pipeline.correlation.causes import NO_EVIDENCE, EvidenceScope, ScopeEvidence
from pipeline.correlation.evidence import (
    LedgerPolicy,
    ScopeLedger,
    decode_ledger,
    ledger_key,
    summary,
)
from pipeline.logs import get_logger

log = get_logger(__name__)

#: Wait before reading again after an error.
RETRY_SECONDS = 1.0


class LedgerView:
    """The latest ledger of every scope value, as the owners last wrote them."""

    def __init__(self, policy: LedgerPolicy) -> None:
        self.policy = policy
        self.ledgers: dict[str, ScopeLedger] = {}
        #: Changelog records applied (a readiness hint for tests and logs).
        self.applied = 0

    def apply(self, key: bytes | None, value: bytes | None) -> None:
        """One changelog record: the ledger of ``key`` now (None: deleted)."""
        if key is None:
            return
        try:
            name = orjson.loads(key)
        except orjson.JSONDecodeError:
            name = key.decode(errors="replace")
        if not isinstance(name, str):
            return
        self.applied += 1
        if value is None:
            self.ledgers.pop(name, None)
            return
        try:
            self.ledgers[name] = decode_ledger(value)
        except ValueError as exc:
            log.error("ledger_view_undecodable", key=name, error=str(exc)[:200])

    def lookup(self, scope: EvidenceScope, value: str, now: float) -> ScopeEvidence:
        """The group's evidence about one scope value as of ``now``."""
        ledger = self.ledgers.get(ledger_key(scope, value))
        return NO_EVIDENCE if ledger is None else summary(ledger, now, policy=self.policy)


async def follow(view: LedgerView, topic: str, partitions: int,
                 options: dict[str, Any]) -> None:
    """Read ``topic`` (the ledgers' changelog, ``partitions`` partitions, created by faust before
    its tasks start) whole into ``view``, for as long as the worker runs; reconnects after
    errors."""
    tps = [TopicPartition(topic, p) for p in range(partitions)]
    while True:
        consumer = AIOKafkaConsumer(**options, group_id=None, enable_auto_commit=False,
                                    auto_offset_reset="earliest")
        try:
            await consumer.start()
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            log.info("ledger_view_following", topic=topic, partitions=partitions)
            while True:
                fetched = await consumer.getmany(timeout_ms=500)
                for records in fetched.values():
                    for record in records:
                        view.apply(record.key, record.value)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("ledger_view_restarted", topic=topic, error=repr(exc)[:500])
            await asyncio.sleep(RETRY_SECONDS)
        finally:
            await consumer.stop()
