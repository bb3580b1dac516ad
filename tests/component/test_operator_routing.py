"""Which worker answers for an invoice, and when a worker may answer from its own table.

The owner is computed from the invoice id with Kafka's default partitioner and the group's
assignment of the issued topic; faust's ``external_topic_key_store`` asked its producer's
metadata instead, which loses the issued topic once the producer refreshes metadata for the
topics it sends to (seen in the fault suite: ``TypeError: 'NoneType' object is not iterable``,
a 500 on every lookup). While a rebalance is under way the table is being recovered, so local
answers are refused (503) rather than given from a partial table (a 404 for an existing invoice).
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from pipeline.queries.params import PendingQuery, SummaryQuery
from pipeline.worker.api import FORWARDED, OperatorApi, Unavailable, partition_of

ISSUED = "prefix.invoice.issued"


def metadata_less_key_store(topic: Any, key: Any) -> Any:
    """What faust's router did once aiokafka's producer metadata no longer had the topic."""
    raise TypeError("'NoneType' object is not iterable")


def worker(distribution: dict[str, dict[str, list[int]]], *, partitions: int = 3,
           rebalancing: bool = False) -> Any:
    router = SimpleNamespace(external_topics_metadata=lambda: distribution,
                             external_topic_key_store=metadata_less_key_store)
    return SimpleNamespace(
        app=SimpleNamespace(router=router, rebalancing=rebalancing,
                            conf=SimpleNamespace(canonical_url="http://w1:6066")),
        issued=SimpleNamespace(get_topic_name=lambda: ISSUED),
        settings=SimpleNamespace(partitions=partitions, api_scan_budget=100),
        batch_store=SimpleNamespace(records=lambda: iter(()), find=lambda _: None),
        state_rebuilt=lambda: True, active_partitions=lambda: {0},
        pending_oldest_first=lambda after, issued_before: iter(()))


@pytest.mark.parametrize(("key", "partition"), [
    # Kafka's Java producer (org.apache.kafka.clients.producer.internals.DefaultPartitioner) on
    # 1,000 partitions, the vectors kafka-python and aiokafka test their murmur2 against.
    (b"", 681), (b"a", 524), (b"ab", 434), (b"abc", 107), (b"123456789", 566), (b"\x00 ", 742)])
def test_the_partition_is_the_java_clients_partition(key: bytes, partition: int) -> None:
    assert partition_of(key.decode(), 1000) == partition


def test_the_owner_comes_from_the_assignment_of_the_issued_topic() -> None:
    distribution = {"http://w1:6066": {ISSUED: [0, 2], "other": [1]},
                    "http://w2:6066": {ISSUED: [1], "other": [0, 2]}}
    api = OperatorApi(worker(distribution))
    seen = set()
    for n in range(30):
        invoice_id = f"2411100000000000{n:04d}"
        expected = "http://w1:6066" if partition_of(invoice_id, 3) in (0, 2) else "http://w2:6066"
        assert api.owner(invoice_id) == expected
        seen.add(expected)
    assert seen == {"http://w1:6066", "http://w2:6066"}  # both owners were asked for


def test_an_unowned_partition_is_unavailable_not_an_error() -> None:
    api = OperatorApi(worker({"http://w1:6066": {ISSUED: [0]}}, partitions=2))
    unowned = next(i for i in (f"2411100000000000{n:04d}" for n in range(50))
                   if partition_of(i, 2) == 1)
    with pytest.raises(Unavailable, match="no owner"):
        api.owner(unowned)


async def test_local_answers_wait_for_the_rebalance_to_end() -> None:
    api = OperatorApi(worker({}, rebalancing=True))
    with pytest.raises(Unavailable, match="rebalancing"):
        api.check_recovered()
    with pytest.raises(Unavailable, match="rebalancing"):
        await api.local_pending(PendingQuery())
    with pytest.raises(Unavailable, match="rebalancing"):
        await api.local_summary(SummaryQuery())
    api.worker.app.rebalancing = False
    api.check_recovered()
    assert (await api.local_pending(PendingQuery()))["items"] == []
    assert (await api.local_summary(SummaryQuery())).totals["issued"] == 0


def test_a_request_goes_to_the_owner_once_and_is_answered_locally_only_when_recovered() -> None:
    api = OperatorApi(worker({"http://w1:6066": {ISSUED: [0]}, "http://w2:6066": {ISSUED: [1]}},
                             partitions=2))
    ids = (f"2411100000000000{n:04d}" for n in range(50))
    mine, theirs = (next(i for i in ids if partition_of(i, 2) == p) for p in (0, 1))
    assert api.forward_to(theirs, {}) == "http://w2:6066"
    assert api.forward_to(mine, {}) is None
    assert api.forward_to(theirs, {FORWARDED: "1"}) is None  # forwarded once: answered here
    api.worker.app.rebalancing = True
    assert api.forward_to(theirs, {}) == "http://w2:6066"  # the owner decides for itself
    for invoice_id, headers in ((mine, {}), (theirs, {FORWARDED: "1"})):
        with pytest.raises(Unavailable, match="rebalancing"):
            api.forward_to(invoice_id, headers)
