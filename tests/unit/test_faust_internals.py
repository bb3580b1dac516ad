"""The parts of faust's (and aiokafka's) internals the batch transport and store rely on.

pipeline/worker/transport.py and pipeline/worker/store.py use private faust 0.15.3 API. This
test fails loudly when an upgrade changes any of it, so an upgrade is a decision, not a
surprise: re-read the code named in the failure before changing the pin in pyproject.toml.
Also proves the commit arithmetic of batches on faust's own ``_new_offset``.
"""

from __future__ import annotations

import inspect
from collections import defaultdict
from types import SimpleNamespace
from typing import Any

import faust
from aiokafka import AIOKafkaProducer
from aiokafka.structs import ConsumerRecord
from faust.stores.rocksdb import Store as RocksStore
from faust.tables import TableManager
from faust.transport import by_url
from faust.transport.consumer import Consumer as BaseConsumer
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP
from faust.types.tuples import ConsumerMessage
from intervaltree import IntervalTree

from pipeline.worker.store import BatchStore, decode_key, encode_key
from pipeline.worker.table_manager import PromptTableManager
from pipeline.worker.transport import BatchConsumer, Transport, batch_topics


def params(function: Any) -> list[str]:
    return list(inspect.signature(function).parameters)


def test_pinned_faust_version() -> None:
    assert faust.__version__ == "0.15.3", "faust upgraded: re-check the internals below"


def test_consumer_internals_the_transport_uses() -> None:
    consumer = faust_aiokafka.Consumer
    assert params(consumer._wait_next_records) == ["self", "timeout"]
    assert params(consumer.getmany) == ["self", "timeout"]
    assert params(consumer._to_message) == ["self", "tp", "record"]
    assert params(consumer._add_gap) == ["self", "tp", "offset_from", "offset_to"]
    assert params(consumer._new_offset) == ["self", "tp"]
    assert params(consumer.perform_seek) == ["self"]
    assert params(consumer.seek) == ["self", "partition", "offset"]
    assert params(consumer.assignment) == ["self"]
    annotations = inspect.get_annotations(BaseConsumer)
    for name in ("_read_offset", "_gap", "_acked", "_acked_index", "_committed_offset"):
        assert name in annotations, name
    init = inspect.getsource(BaseConsumer.__init__)
    assert "self._buffered_partitions" in inspect.getsource(BaseConsumer)
    assert "self._gap = defaultdict(IntervalTree)" in init
    # The drain loop registers gaps up to and including the delivered offset and skips them
    # after offset 0: the reasons the transport registers its own (module docstring).
    drain = inspect.getsource(BaseConsumer._drain_messages)
    assert "if gap > 1 and r_offset:" in drain
    assert "await self._add_gap(tp, r_offset + 1, offset)" in drain
    assert "set_read_offset(tp, offset)" in drain


def test_stream_acks_the_events_it_skips() -> None:
    # Why a batch is committed only once marked processed (transport module docstring).
    import faust.streams

    source = inspect.getsource(faust.streams.Stream._py_aiter)
    assert "message.generation_id != self.app.consumer_generation_id" in source
    assert "if event is not None and (do_ack or value is skipped_value):" in source
    assert params(BaseConsumer.ack) == ["self", "message"]
    assert "_unacked_messages" in inspect.getsource(BaseConsumer.ack)


def test_consumer_message_argument_order() -> None:
    names = params(ConsumerMessage.__init__)
    assert names[:13] == ["self", "topic", "partition", "offset", "timestamp",
                          "timestamp_type", "headers", "key", "value", "checksum",
                          "serialized_key_size", "serialized_value_size", "tp"]
    assert "generation_id" in names


def test_rocksdb_store_internals_the_batch_store_uses() -> None:
    assert RocksStore.offset_key == b"__faust\0offset__"
    assert params(RocksStore._db_for_partition) == ["self", "partition"]
    assert params(RocksStore.persisted_offset) == ["self", "tp"]
    assert "self._dbs" in inspect.getsource(RocksStore)
    # faust reads the offset key back as int(value): the store writes str(offset).encode().
    assert "int(offset)" in inspect.getsource(RocksStore.persisted_offset)


def test_the_table_manager_start_the_worker_replaces() -> None:
    """pipeline/worker/table_manager.py is faust's on_start without its first line."""
    assert inspect.getsource(TableManager.on_start).splitlines()[1:] == [
        '        """Call when table manager is starting."""',
        "        await self.sleep(1.0)",
        "        if not self.should_stop:",
        "            await self._update_channels()",
        "            await self.recovery.start()",
    ]
    assert params(TableManager._update_channels) == ["self"]
    app = faust.App("probe", store="memory://", TableManager=PromptTableManager)
    assert isinstance(app.tables, PromptTableManager)


def test_aiokafka_batch_producer_api() -> None:
    assert params(AIOKafkaProducer.create_batch) == ["self"]
    assert params(AIOKafkaProducer.send_batch) == ["self", "batch", "topic", "partition"]


def test_transport_is_registered_under_its_scheme() -> None:
    assert by_url("batchkafka://localhost:9092") is Transport
    assert Transport.Consumer is BatchConsumer


def _record(topic: str, partition: int, offset: int) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord(topic, partition, offset, 1000, 0, b"k", b"v", None, 1, 1, [])


def _consumer_state(topics: list[str], assigned: frozenset[TP] = frozenset()) -> Any:
    """A BatchConsumer's bookkeeping without faust's service; ``seeks`` records the seeks it
    schedules (tp, offset) instead of running them."""
    app = SimpleNamespace(consumer_generation_id=1)
    batch_topics(app, topics)
    state = SimpleNamespace(
        app=app, _gap=defaultdict(IntervalTree), _acked=defaultdict(list),
        _acked_index=defaultdict(set), _committed_offset=defaultdict(lambda: None),
        _unacked_messages=set(), log=SimpleNamespace(info=lambda *args: None),
        assignment=lambda: set(assigned), _refetch=[], _hole_since={}, _outstanding={},
        _first_delivered={}, seeks=[])
    state._run_start = lambda tp: BatchConsumer._run_start(state, tp)
    state._schedule_seek = lambda tp, offset: state.seeks.append((tp, offset))
    state.register_gap = lambda message: BatchConsumer.register_gap(state, message)
    return state


def _deliver(state: Any, tp: TP, offsets: Any) -> Any:
    """A batch as getmany yields it: outstanding until acked, its first offset noted."""
    message = BatchConsumer._batch_message(state, tp, [_record(tp.topic, tp.partition, o)
                                                       for o in offsets])
    state._outstanding.setdefault(tp, set()).add(message)
    BatchConsumer._note_delivered(state, tp, message.first_offset)
    state._unacked_messages.add(message)
    return message


def test_a_batch_the_agent_did_not_process_is_released_but_never_recorded_as_acked() -> None:
    tp = TP("t", 0)
    state = _consumer_state(["t"])
    message = BatchConsumer._batch_message(state, tp, [_record("t", 0, o) for o in range(5)])
    state._unacked_messages.add(message)
    assert BatchConsumer.ack(state, message) is False
    assert message.acked and message not in state._unacked_messages
    assert not state._acked[tp] and not state._gap[tp]
    assert BaseConsumer._new_offset(state, tp) is None


def test_a_batch_processed_again_after_a_seek_adds_no_duplicate_offsets() -> None:
    tp = TP("t", 0)
    state = _consumer_state(["t"])
    first = BatchConsumer._batch_message(state, tp, [_record("t", 0, o) for o in range(0, 5)])
    BatchConsumer.register_gap(state, first)  # processed; its own ack lost to a rebalance
    again = BatchConsumer._batch_message(state, tp, [_record("t", 0, o) for o in range(0, 8)])
    _ack(state, again)
    assert BaseConsumer._new_offset(state, tp) == 8


def _ack(state: Any, message: Any) -> None:
    """mark_processed, then faust's ack of the batch as its compiled stream iterator makes
    it: inline, without calling Consumer.ack."""
    BatchConsumer.on_processed(state, message)
    state._acked[message.tp].append(message.offset)
    state._acked_index[message.tp].add(message.offset)


def test_commits_reach_the_end_of_each_acked_batch_and_never_pass_an_unacked_one() -> None:
    tp = TP("t", 0)
    state = _consumer_state(["t"])
    # Batches: [0] alone (the drain loop would register no gap after offset 0), 1..9, 10..19.
    batches = [[_record("t", 0, o) for o in offsets]
               for offsets in ([0], range(1, 10), range(10, 20))]
    messages = [BatchConsumer._batch_message(state, tp, b) for b in batches]
    assert [m.offset for m in messages] == [0, 9, 19]
    assert messages[1].value == batches[1]

    def commit() -> int | None:
        offset: int | None = BaseConsumer._new_offset(state, tp)
        if offset is not None:
            state._committed_offset[tp] = offset
        return offset

    assert commit() is None  # nothing processed, nothing committed
    _ack(state, messages[0])
    assert commit() == 1
    _ack(state, messages[1])
    assert commit() == 10  # the whole of 1..9, not one batch behind
    assert commit() is None  # batch 10..19 delivered but not acked: not committed
    _ack(state, messages[2])
    assert commit() == 20


def test_a_skipped_batch_leaves_nothing_that_a_later_batch_could_commit() -> None:
    tp = TP("t", 0)
    state = _consumer_state(["t"])
    state._committed_offset[tp] = 10
    skipped = BatchConsumer._batch_message(state, tp, [_record("t", 0, o) for o in range(10, 30)])
    state._unacked_messages.add(skipped)
    assert BatchConsumer.ack(state, skipped) is False
    # Fetched again after the seek, fewer records this time: only those may be committed.
    again = BatchConsumer._batch_message(state, tp, [_record("t", 0, o) for o in range(10, 15)])
    again.processed = True
    _ack(state, again)
    assert BaseConsumer._new_offset(state, tp) == 15


def test_the_batch_store_encodes_keys_and_values_as_faust_s_table() -> None:
    app = faust.App("probe", store="memory://")
    table = app.Table("invoices", key_type=str, value_type=bytes, partitions=4)
    store = BatchStore(table, lambda: None)  # type: ignore[arg-type,return-value]
    store.check_encoding()
    assert table.data._encode_key("24111000000000000500") == encode_key("24111000000000000500")
    assert decode_key(table.data._encode_key("2411")) == "2411"


def test_a_run_that_does_not_start_at_the_committed_offset_commits_nothing() -> None:
    tp = TP("t", 0)
    state = _consumer_state(["t"])
    state._committed_offset[tp] = 10
    later = BatchConsumer._batch_message(state, tp, [_record("t", 0, o) for o in range(11, 15)])
    _ack(state, later)  # offset 10 never processed (its batch was skipped)
    assert BatchConsumer._run_starts_at_commit(state, tp) is False
    assert BaseConsumer._new_offset(state, tp) == 15  # faust alone would pass offset 10
    state._committed_offset[tp] = 11
    later_again = BatchConsumer._batch_message(state, tp, [_record("t", 0, o) for o in (11, 12)])
    _ack(state, later_again)
    assert BatchConsumer._run_starts_at_commit(state, tp) is True


def test_with_no_committed_offset_the_run_must_start_at_the_first_offset_delivered() -> None:
    # A fresh group (nothing committed yet): batch 0..4 is delivered then lost (faust cleared
    # its queue), batch 5..7 is processed. faust alone would commit 8 and 0..4 would be lost.
    tp = TP("t", 0)
    state = _consumer_state(["t"])
    _deliver(state, tp, range(0, 5))
    later = _deliver(state, tp, range(5, 8))
    later.processed = True
    _ack(state, later)
    assert BatchConsumer._run_starts_at_commit(state, tp) is False
    assert BaseConsumer._new_offset(state, tp) == 8  # what faust alone would commit


def test_cleared_stream_queues_read_every_partition_with_an_unacked_batch_again() -> None:
    tp, other, revoked = TP("t", 0), TP("t", 1), TP("t", 2)
    state = _consumer_state(["t"], assigned=frozenset({tp, other}))
    lost = [_deliver(state, tp, range(3, 6)), _deliver(state, tp, range(6, 9))]
    _deliver(state, other, range(40, 42))
    _deliver(state, revoked, range(7, 9))  # its next owner reads it from the commit
    BatchConsumer._on_queues_cleared(state)
    assert sorted(state.seeks) == [(tp, 3), (other, 40)]
    assert not any(m in state._unacked_messages for m in lost)  # a rebalance must not wait
    assert not any(state._outstanding.values())


def test_a_processed_batch_is_released_although_faust_acks_it_without_consumer_ack() -> None:
    # faust's compiled stream iterator acks inline: released only in BatchConsumer.ack, every
    # batch stayed outstanding with its records (a backlog drain held the whole backlog).
    tp = TP("t", 0)
    state = _consumer_state(["t"], assigned=frozenset({tp}))
    done = _deliver(state, tp, range(0, 5))
    pending = _deliver(state, tp, range(5, 8))
    _ack(state, done)
    assert state._outstanding[tp] == {pending}
    BatchConsumer._on_queues_cleared(state)  # only the unprocessed batch is read again
    assert state.seeks == [(tp, 5)]
