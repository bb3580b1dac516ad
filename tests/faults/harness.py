"""The fault suite's view of a running system: what the group committed, what the changelog
holds, what each worker answers, and a live stream of invoices and acks produced from outside.

Built on the integration harness (tests/integration/harness.py): a :class:`FaultStack` is a
:class:`Stack` with more partitions and a few more ways to look at Kafka. Every wait polls a
condition with a deadline (``wait_for``); no fixed sleep stands in for one.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from pipeline.contracts.samples import sample_ack, sample_issued
from pipeline.correlation.state import InvoiceState, decode
from pipeline.worker.process import WaitTimeout
from tests.integration.harness import Stack, WorkerProcess, wait_for

__all__ = ["FaultStack", "Traffic", "WaitTimeout", "WorkerProcess", "events", "iso", "wait_for"]


def iso(seconds: float) -> str:
    """Epoch seconds as an ISO 8601 timestamp in UTC."""
    return datetime.fromtimestamp(seconds, tz=UTC).isoformat()


class FaultStack(Stack):
    """A test's topics and group on the broker, with ``partitions`` per input topic."""

    def __init__(self, bootstrap: str, prefix: str, tmp: Any, partitions: int = 6) -> None:
        super().__init__(bootstrap, prefix, tmp)
        self.partitions = partitions
        self.defaults: dict[str, str] = {"PARTITIONS": str(partitions)}
        self.topics["ticks"] = f"{prefix}.ticks"
        self.topics["changelog"] = f"{prefix}-invoice-sync-invoices-changelog"

    def use_partitions(self, partitions: int) -> FaultStack:
        """Run this test's topics and workers with ``partitions`` per input topic."""
        self.partitions = partitions
        self.defaults["PARTITIONS"] = str(partitions)
        return self

    @property
    def group(self) -> str:
        return f"{self.prefix}-invoice-sync"

    def worker_env(self, name: str = "w1", **settings: str) -> dict[str, str]:
        return super().worker_env(name, **{**self.defaults, **settings})

    # -- offsets ----------------------------------------------------------------------

    def end_offsets(self, role: str) -> dict[int, int]:
        return asyncio.run(self._end_offsets(self.topics[role]))

    async def _end_offsets(self, topic: str) -> dict[int, int]:
        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap)
        await consumer.start()
        try:
            # Every topic of a stack (inputs, alerts, dead letters, ticks, the table's
            # changelog) has the stack's partition count.
            ends = await consumer.end_offsets(
                [TopicPartition(topic, p) for p in range(self.partitions)])
        finally:
            await consumer.stop()
        return {tp.partition: offset for tp, offset in ends.items()}

    def committed(self, role: str) -> dict[int, int]:
        """The group's committed offsets (next offset to read) of ``role``'s partitions."""
        return asyncio.run(self._committed(self.topics[role]))

    async def _committed(self, topic: str) -> dict[int, int]:
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap)
        await admin.start()
        try:
            offsets = await admin.list_consumer_group_offsets(self.group)
        finally:
            await admin.close()
        return {tp.partition: meta.offset for tp, meta in offsets.items()
                if tp.topic == topic and meta.offset >= 0}

    def uncommitted(self, *roles: str) -> dict[str, int]:
        """Records produced to ``roles``' topics that the group has not committed, per
        ``topic/partition`` (empty: everything committed)."""
        lag = {}
        for role in roles:
            ends, committed = self.end_offsets(role), self.committed(role)
            for p, end in ends.items():
                if committed.get(p, 0) < end:
                    lag[f"{role}/{p}"] = end - committed.get(p, 0)
        return lag

    def fully_committed(self, *roles: str) -> bool:
        """The group committed every record produced so far to ``roles``' topics."""
        return not self.uncommitted(*roles)

    def wait_committed(self, timeout: float = 60) -> None:
        """Wait until the group committed every input record; else fail naming the lag."""
        try:
            wait_for(lambda: self.fully_committed("issued", "acknowledged"), timeout,
                     "the group to commit every input record")
        except WaitTimeout:
            lag = self.uncommitted("issued", "acknowledged")
            raise AssertionError(f"after {timeout}s the group still had not committed "
                                 f"(records per topic/partition): {lag}") from None

    def records(self, role: str) -> list[Any]:
        """Every record of ``role``'s topic up to its end offsets now (one pass)."""
        ends = self.end_offsets(role)
        return self.read(role, lambda rs: _reached(rs, ends), timeout=60)

    def produce_many(self, role: str, records: Iterable[tuple[bytes | None, bytes | None]],
                     ) -> None:
        """Produce ``records`` in order, pipelined (one wait for all the broker's acks)."""
        async def send() -> None:
            producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, acks="all",
                                        linger_ms=20, max_request_size=4 * 1024 * 1024)
            await producer.start()
            try:
                futures = [await producer.send(self.topics[role], value=v, key=k)
                           for k, v in records]
                await asyncio.gather(*futures)
            finally:
                await producer.stop()

        asyncio.run(send())

    # -- state ------------------------------------------------------------------------

    def not_durable(self) -> list[str]:
        """Input records the group committed whose effect the table's changelog lacks: an
        issued record whose invoice is not issued there, an ack whose invoice has no ack.
        At-least-once makes this empty at any moment, whatever the workers are doing."""
        committed = {role: self.committed(role) for role in ("issued", "acknowledged")}
        state = self.changelog()
        missing = []
        for role, check in (("issued", lambda s: s.issued_at is not None),
                            ("acknowledged", lambda s: s.ack_status is not None)):
            for r in self.records(role):
                if r.offset >= committed[role].get(r.partition, 0) or r.key is None:
                    continue
                known = state.get(r.key.decode(errors="replace"))
                if known is None or not check(known):
                    missing.append(f"{role}/{r.partition}@{r.offset} {r.key.decode()}")
        return missing

    def changelog(self) -> dict[str, InvoiceState | None]:
        """The table as its changelog holds it: invoice id -> last record (None: deleted)."""
        states: dict[str, InvoiceState | None] = {}
        for record in self.records("changelog"):
            # The batch store keys the table by the raw invoice id; faust's table used JSON.
            key = (orjson.loads(record.key) if record.key[:1] == b'"'
                   else record.key.decode())
            # faust writes a bytes table value as it is (no codec): our encoded record.
            states[key] = None if record.value is None else decode(record.value)
        return states

    def invoice(self, worker: WorkerProcess, invoice_id: str) -> tuple[int, Any]:
        """``GET /invoices/{id}``: (status, parsed JSON); AssertionError if not JSON."""
        status, body = worker.http(f"/invoices/{invoice_id}", timeout=15)
        try:
            return status, orjson.loads(body)
        except orjson.JSONDecodeError:
            raise AssertionError(f"/invoices/{invoice_id} answered {status} with non-JSON "
                                 f"{body[:200]!r}") from None

    def dead_letters(self) -> list[dict[str, Any]]:
        """Every dead letter now: headers (decoded) plus key and value."""
        out = []
        for record in self.records("dlq"):
            entry: dict[str, Any] = {k: v.decode() for k, v in record.headers}
            entry.update(key=record.key, value=record.value)
            out.append(entry)
        return out

    def alerts_now(self) -> list[dict[str, Any]]:
        """Every alert on the alert topic now (one pass to its end offsets)."""
        return [orjson.loads(r.value) for r in self.records("alerts")]

    def alerts_once(self, done: Callable[[list[dict[str, Any]]], bool], timeout: float,
                    ) -> list[dict[str, Any]]:
        """The alerts once ``done(alerts)`` holds, or those there are after ``timeout``
        seconds (the test's assertions then say what is missing)."""
        alerts: list[dict[str, Any]] = []

        def check() -> bool:
            alerts[:] = self.alerts_now()
            return done(alerts)

        with contextlib.suppress(WaitTimeout):
            wait_for(check, timeout, "alerts", interval=1.0)
        return alerts

    def set_topic_config(self, role: str, config: dict[str, str]) -> None:
        """Set ``role``'s topic configuration through the admin API (AlterConfigs: the
        topic's overrides become exactly ``config``)."""
        from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

        async def alter() -> None:
            admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap)
            await admin.start()
            try:
                responses = await admin.alter_configs([ConfigResource(
                    ConfigResourceType.TOPIC, self.topics[role], configs=config)])
            finally:
                await admin.close()
            errors = [r for response in responses for r in response.resources if r[0] != 0]
            assert errors == [], f"AlterConfigs of {self.topics[role]} failed: {errors}"

        asyncio.run(alter())


def _reached(records: list[Any], ends: dict[int, int]) -> bool:
    seen: dict[int, int] = {}
    for r in records:
        seen[r.partition] = max(seen.get(r.partition, -1), r.offset)
    return all(end == 0 or seen.get(p, -1) >= end - 1 for p, end in ends.items())


@dataclass
class Traffic:
    """A live stream from outside: ``rate`` invoices per second, each acked ``ack_after``
    seconds after issue (acknowledged then) unless its sequence number is a multiple of
    ``never_every``. Runs in its own thread with its own producer; :meth:`stop` ends it and
    waits until the broker has every record that was sent (or reports the failures).
    """

    stack: FaultStack
    rate: float = 20.0
    ack_after: float = 0.5
    never_every: int = 10
    first_seq: int = 1
    issued: list[dict[str, Any]] = field(default_factory=list)
    acked: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)

    @property
    def never_acked(self) -> set[str]:
        return {i["invoice_id"] for n, i in enumerate(self.issued, self.first_seq)
                if n % self.never_every == 0}

    @property
    def acked_ids(self) -> set[str]:
        return set(self.acked)

    def start(self) -> Traffic:
        self._thread.start()
        return self

    def stop(self, timeout: float = 180) -> Traffic:
        self._stop.set()
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "the traffic producer did not finish"
        return self

    async def _run(self) -> None:
        # A long request timeout: records sent while the broker is away are buffered and
        # delivered when it is back, as a producer application's would be.
        producer = AIOKafkaProducer(bootstrap_servers=self.stack.bootstrap, acks="all",
                                    request_timeout_ms=180_000, linger_ms=5,
                                    max_batch_size=1024 * 1024)
        await producer.start()
        sends: list[tuple[str, str, asyncio.Future[Any]]] = []
        acks_due: list[tuple[float, str]] = []
        seq, started = self.first_seq, time.time()
        try:
            while not self._stop.is_set():
                now = time.time()
                while acks_due and acks_due[0][0] <= now:
                    at, invoice_id = heapq.heappop(acks_due)
                    ack = sample_ack(invoice_id, acknowledged_at=iso(at))
                    sends.append(("ack", invoice_id, await producer.send(
                        self.stack.topics["acknowledged"], orjson.dumps(ack),
                        key=invoice_id.encode())))
                if now >= started + (seq - self.first_seq) / self.rate:
                    invoice = sample_issued(seq=seq, issued_at=iso(now))
                    sends.append(("issued", invoice["invoice_id"], await producer.send(
                        self.stack.topics["issued"], orjson.dumps(invoice),
                        key=invoice["invoice_id"].encode())))
                    self.issued.append(invoice)
                    if seq % self.never_every:
                        heapq.heappush(acks_due, (now + self.ack_after, invoice["invoice_id"]))
                    seq += 1
                await asyncio.sleep(0.01)  # pacing of a producer, not a wait for a condition
            for at, invoice_id in acks_due:  # acks already due are still sent, late
                sends.append(("ack", invoice_id, await producer.send(
                    self.stack.topics["acknowledged"],
                    orjson.dumps(sample_ack(invoice_id, acknowledged_at=iso(at))),
                    key=invoice_id.encode())))
            for kind, invoice_id, future in sends:
                try:
                    await future
                except Exception:  # the broker never took it: not part of what was produced
                    self.failed.append(f"{kind}:{invoice_id}")
                else:
                    if kind == "ack":
                        self.acked.append(invoice_id)
        finally:
            await producer.stop()


def events(items: Iterable[dict[str, Any]]) -> list[tuple[bytes, bytes]]:
    """(key, value) records of JSON events keyed by their invoice id."""
    return [(e["invoice_id"].encode(), orjson.dumps(e)) for e in items]
