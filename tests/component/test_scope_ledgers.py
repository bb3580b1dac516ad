"""The group-wide evidence adapter without Kafka: two workers' outboxes feed the ledgers' owner,
which raises one episode, writes it only after the alert is out, and resolves it from the stored
ledger alone (a restarted owner)."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from typing import Any

import pytest

from pipeline.correlation.alerts import Alert
from pipeline.correlation.evidence import (
    LedgerPolicy,
    Observation,
    decode_ledger,
    decode_runs,
    ledger_partition,
    runs,
)
from pipeline.correlation.state import InvoiceState
from pipeline.worker.ledger_view import LedgerView
from pipeline.worker.ledgers import EvidenceOutbox, ScopeLedgers

T0 = 1_800_000_000.0
PARTITIONS = 4
POLICY = LedgerPolicy(window_seconds=300.0, min_due=20)
REGION = "region_code:110000"


class Topic:
    """What the outbox needs of a faust topic; ``failures`` sends raise first."""

    def __init__(self, failures: int = 0) -> None:
        self.sent: list[tuple[bytes, bytes, int]] = []
        self.failures = failures

    async def send(self, *, key: bytes, value: bytes, partition: int) -> Any:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("broker away")
        self.sent.append((key, value, partition))
        delivered: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        delivered.set_result(None)
        return delivered


class Sink:
    def __init__(self, fail: bool = False) -> None:
        self.sent: list[Alert] = []
        self.fail = fail

    async def __call__(self, alerts: Sequence[Alert]) -> None:
        if self.fail:
            raise ConnectionError("alert topic away")
        self.sent.extend(alerts)


def invoice(n: int) -> InvoiceState:
    return InvoiceState(f"inv-{n}", n % PARTITIONS, issued_at=T0, region_code="110000",
                        source_system="erp-beijing")


def owner(table: dict[str, bytes]) -> ScopeLedgers:
    return ScopeLedgers(table, LedgerView(POLICY), policy=POLICY, partitions=PARTITIONS,
                        submissions_tracked=False)


async def two_workers_observe(topic: Topic, count: int, kind: str, at: float) -> None:
    """Half the invoices on each worker: neither alone has ``min_due`` of the region."""
    workers = [EvidenceOutbox(topic, PARTITIONS, POLICY), EvidenceOutbox(topic, PARTITIONS, POLICY)]
    for n in range(count):
        observation = Observation(kind, at, unsynced=kind == "due")  # type: ignore[arg-type]
        workers[n % 2].add(invoice(n), observation)
    for worker in workers:
        await worker.flush()


def deliver(topic: Topic, ledgers: ScopeLedgers) -> None:
    for key, value, partition in topic.sent:
        assert partition == ledger_partition(key.decode(), PARTITIONS)
        ledgers.on_evidence(key.decode(), value)
    topic.sent.clear()


async def test_one_owner_raises_one_episode_and_a_restarted_owner_resolves_it() -> None:
    topic, table = Topic(), {}
    ledgers = owner(table)
    await two_workers_observe(topic, 24, "due", T0 + 10)
    # One record per scope and worker (platform, region, source), not one per invoice.
    assert len(topic.sent) == 6
    deliver(topic, ledgers)
    assert decode_ledger(table[REGION]).buckets[0].unsynced == 24
    sink = Sink()
    for partition in range(PARTITIONS):
        await ledgers.evaluate(partition, T0 + 11, sink)
    raised = {(a.scope, a.region_code or a.source_system or ""): a for a in sink.sent}
    assert set(raised) == {("platform", ""), ("region_code", "110000"),
                           ("source_system", "erp-beijing")}
    assert all(a.kind == "degraded" for a in sink.sent)
    episode = raised["region_code", "110000"].alert_id
    assert decode_ledger(table[REGION]).episode_id == episode
    assert ("region_code", "110000") in ledgers.active()
    for partition in range(PARTITIONS):  # evaluated again: nothing new
        await ledgers.evaluate(partition, T0 + 12, sink)
    assert len(sink.sent) == 3

    restarted, later = owner(table), Sink()  # the table is all a new owner has
    await two_workers_observe(topic, 24, "late", T0 + 60)
    deliver(topic, restarted)
    for partition in range(PARTITIONS):
        await restarted.evaluate(partition, T0 + 61, later)
    resolved = {a.resolved_alert_ids[0]: a for a in later.sent}
    assert all(a.kind == "resolved" for a in later.sent)
    assert set(resolved) == {a.alert_id for a in sink.sent}
    assert restarted.active() == []


async def test_the_episode_is_written_only_once_its_alert_is_out() -> None:
    topic, table = Topic(), {}
    ledgers = owner(table)
    await two_workers_observe(topic, 24, "due", T0 + 10)
    deliver(topic, ledgers)
    partition = ledger_partition(REGION, PARTITIONS)
    with pytest.raises(ConnectionError):
        await ledgers.evaluate(partition, T0 + 11, Sink(fail=True))
    assert decode_ledger(table[REGION]).episode_id is None
    sink = Sink()
    await ledgers.evaluate(partition, T0 + 11, sink)
    assert "degraded" in {a.kind for a in sink.sent}


async def test_a_spent_ledger_is_deleted_and_a_bad_record_refused() -> None:
    topic, table = Topic(), {}
    ledgers = owner(table)
    await two_workers_observe(topic, 3, "due", T0)
    deliver(topic, ledgers)
    assert REGION in table
    for partition in range(PARTITIONS):
        await ledgers.evaluate(partition, T0 + 400, Sink())  # all out of the window
    assert table == {}
    with pytest.raises(ValueError):
        ledgers.on_evidence(REGION, b"not json")
    with pytest.raises(ValueError):
        ledgers.on_evidence("seller:1", b'{"v": 1, "o": []}')


async def test_the_outbox_retries_until_sent_and_sends_at_most_every_half_second() -> None:
    topic = Topic(failures=2)
    outbox = EvidenceOutbox(topic, PARTITIONS, POLICY)
    outbox.add(invoice(1), Observation("answered", T0))
    await outbox.flush()
    assert [key for key, _, _ in topic.sent] == [b"platform:", b"region_code:110000",
                                                  b"source_system:erp-beijing"]
    outbox.add(invoice(2), Observation("answered", T0))
    await outbox.flush_due(100.0)
    assert len(topic.sent) == 6
    outbox.add(invoice(3), Observation("answered", T0))
    await outbox.flush_due(100.4)  # too soon: kept
    assert len(topic.sent) == 6
    await outbox.flush_due(100.5)
    assert len(topic.sent) == 9


async def test_the_outbox_gathers_the_runs_the_core_would() -> None:
    rng = random.Random(11)
    kinds = ("due", "late", "submitted", "answered")
    for _ in range(50):
        topic, observations = Topic(), []
        outbox = EvidenceOutbox(topic, PARTITIONS, POLICY)
        at = T0
        for n in range(rng.randrange(1, 80)):
            at += rng.choice((0.0, 0.3, 31.0))
            kind = rng.choice(kinds)
            observation = Observation(kind, at, unsynced=kind == "due" and rng.random() < 0.5,
                                      failed=kind == "submitted" and rng.random() < 0.3)
            observations.append(observation)
            outbox.add(invoice(n), observation)
        await outbox.flush()
        sent = {key: decode_runs(value) for key, value, _ in topic.sent}
        assert sent[REGION.encode()] == runs(observations, policy=POLICY)
