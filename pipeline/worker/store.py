"""The batch state store: one partition's invoice records, written once per batch.

faust's table writes one record at a time (a RocksDB put, a ``FutureMessage`` changelog send
through its producer buffer, an offset put per ack: ~100 us each; docs/performance.md). Here a
batch of one partition works on an overlay of the records it touched (read-your-writes inside
the batch) and :meth:`BatchStore.persist` then writes them in the order that keeps a crash safe:

1. one RocksDB ``WriteBatch`` into the same per-partition database faust's table recovers;
2. the changelog records, one per changed key, produced as one aiokafka batch and awaited;
3. the changelog offset under faust's own offset key, so faust's recovery resumes after it.

A crash between any two steps leaves the input offset uncommitted: the batch is read again and
rewrites the same keys (the changelog then holds a record twice, harmless for a compacted topic
and for faust's recovery, which applies records in order). Recovery from the changelog alone
(an empty data dir) rebuilds the same records.

Private faust 0.15.3 store API used, only here: ``Store._db_for_partition``, ``Store._dbs``,
``Store.offset_key`` (checked by tests/unit/test_faust_internals.py). Keys and values are stored
exactly as faust's table (``key_type=str``, ``value_type=bytes``) stores them: the key is the
invoice id as a JSON string (faust's default key serializer, ``"2411..."`` with the quotes), the
value the encoded record as is (raw); :meth:`BatchStore.check_encoding` compares with faust's
own encoder at start-up.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, MutableMapping
from typing import Any, Protocol

import orjson
from rocksdict import ReadOptions, WriteBatch

from pipeline.worker import killpoint

#: The stored key of an invoice id, as faust's JSON key serializer writes it.
encode_key = orjson.dumps


def decode_key(stored: bytes) -> str:
    invoice_id: str = orjson.loads(stored)
    return invoice_id


class BatchProducer(Protocol):
    """What the store needs of aiokafka's ``AIOKafkaProducer``."""

    def create_batch(self) -> Any: ...

    async def send_batch(self, batch: Any, topic: str, *, partition: int) -> Any: ...


class PartitionBatch:
    """The records one batch of one partition read and wrote (read-your-writes)."""

    __slots__ = ("_db", "changes", "partition")

    def __init__(self, db: Any, partition: int) -> None:
        self._db = db
        self.partition = partition
        #: invoice id -> new record, or None for a deletion.
        self.changes: dict[str, bytes | None] = {}

    def get(self, invoice_id: str) -> bytes | None:
        """The record as this batch left it so far."""
        changes = self.changes
        if invoice_id in changes:
            return changes[invoice_id]
        value: bytes | None = self._db.get(encode_key(invoice_id))
        return value

    def put(self, invoice_id: str, record: bytes) -> None:
        self.changes[invoice_id] = record

    def delete(self, invoice_id: str) -> None:
        self.changes[invoice_id] = None


class BatchInHand(MutableMapping[str, bytes]):
    """The mapping the correlator reads and writes: the overlay of the batch in hand.

    The correlator takes any mutable mapping of invoice id -> record (a dict in component
    tests); in the worker it is this view, pointed at each batch's overlay in turn.
    """

    def __init__(self) -> None:
        self._batch: PartitionBatch | None = None

    def hold(self, batch: PartitionBatch | None) -> None:
        """Direct reads and writes to ``batch`` (None: outside any batch, an error)."""
        self._batch = batch

    def _current(self) -> PartitionBatch:
        if self._batch is None:
            raise RuntimeError("invoice records are written inside a batch only")
        return self._batch

    def __getitem__(self, invoice_id: str) -> bytes:
        value = self._current().get(invoice_id)
        if value is None:
            raise KeyError(invoice_id)
        return value

    def get(self, invoice_id: str, default: Any = None) -> Any:
        value = self._current().get(invoice_id)
        return default if value is None else value

    def __setitem__(self, invoice_id: str, record: bytes) -> None:
        self._current().put(invoice_id, record)

    def __delitem__(self, invoice_id: str) -> None:
        self._current().delete(invoice_id)

    def pop(self, invoice_id: str, default: Any = None) -> Any:
        value = self.get(invoice_id, default)
        self._current().delete(invoice_id)
        return value

    def as_changed(self, invoice_id: str, stored: bytes) -> bytes | None:
        """``stored`` (read from RocksDB) as the batch in hand has left it."""
        changes = self._current().changes
        return changes.get(invoice_id, stored)

    def __iter__(self) -> Iterator[str]:
        return (k for k, v in self._current().changes.items() if v is not None)

    def __len__(self) -> int:
        return sum(1 for v in self._current().changes.values() if v is not None)


class BatchStore:
    """The invoice table's per-partition RocksDB, written a batch at a time."""

    def __init__(self, table: Any, producer: Callable[[], BatchProducer]) -> None:
        self._table = table
        #: Called at each send: the worker's producer exists only once faust has started it.
        self._producer = producer

    @property
    def _store(self) -> Any:
        return self._table.data

    def check_encoding(self) -> None:
        """Fail loudly if faust would store keys or values otherwise than this store does."""
        probe = "24111000000000000000"
        if (self._store._encode_key(probe) != encode_key(probe)
                or self._store._encode_value(b"\x01r") != b"\x01r"):
            raise RuntimeError("faust's table encodes keys or values otherwise than the batch "
                               "store (pipeline/worker/store.py): recovery would not match")

    def begin(self, partition: int) -> PartitionBatch:
        """An empty overlay over ``partition``'s records."""
        return PartitionBatch(self._store._db_for_partition(partition), partition)

    def find(self, invoice_id: str) -> bytes | None:
        """The persisted record of ``invoice_id`` in any partition open here (operator API)."""
        key = encode_key(invoice_id)
        for db in list(self._store._dbs.values()):
            value: bytes | None = db.get(key)
            if value is not None:
                return value
        return None

    def records(self) -> Iterator[tuple[str, bytes]]:
        """(invoice id, record) of every partition open here (operator API summaries)."""
        for partition in sorted(self._store._dbs):
            for _, invoice_id, value in self.items(partition):
                yield invoice_id, value

    async def persist(self, batch: PartitionBatch) -> None:
        """WriteBatch, then the changelog records (awaited), then the changelog offset."""
        if not batch.changes:
            return
        store = self._store
        db = store._db_for_partition(batch.partition)
        write = WriteBatch(raw_mode=True)
        encoded = []
        for invoice_id, record in batch.changes.items():
            key = encode_key(invoice_id)
            encoded.append((key, record))
            if record is None:
                write.delete(key)
            else:
                write.put(key, record)
        db.write(write)
        killpoint.reached("after_writebatch")
        last = await self._produce_changelog(batch.partition, encoded)
        killpoint.reached("after_changelog")
        db.put(store.offset_key, str(last).encode())

    async def _produce_changelog(self, partition: int,
                                 records: list[tuple[bytes, bytes | None]]) -> int:
        """Send ``records`` to the changelog partition; the offset of the last one."""
        topic = self._table.changelog_topic.get_topic_name()
        producer = self._producer()
        sent = []
        builder = producer.create_batch()
        for key, value in records:
            if builder.append(key=key, value=value, timestamp=None) is None:
                sent.append((await producer.send_batch(builder, topic, partition=partition),
                             builder.record_count()))
                builder = producer.create_batch()
                builder.append(key=key, value=value, timestamp=None)
        sent.append((await producer.send_batch(builder, topic, partition=partition),
                     builder.record_count()))
        last = -1
        for future, count in sent:
            metadata = await future
            last = max(last, metadata.offset + count - 1)
        return last

    def scan(self, partition: int) -> Iterator[tuple[bytes, bytes]]:
        """(stored key, record) of every record of ``partition`` in key order, for the restart
        rebuild: RocksDB's own iterators, no Python step per record (a key is decoded only
        for a record that cannot be, :func:`decode_key`), and not through the block cache."""
        store = self._store
        db = store._dbs.get(partition)
        if db is None:
            return iter(())
        # Every key but faust's offset key: those below it, then those above it (invoice keys
        # are JSON strings, all below it; the second iterator is for exactness, not use).
        below: Any = ReadOptions()  # rocksdict 0.3.29's stub omits fill_cache's argument
        below.fill_cache(False)
        below.set_iterate_upper_bound(store.offset_key)
        above: Any = ReadOptions()
        above.fill_cache(False)
        return itertools.chain(db.items(read_opt=below),
                               db.items(from_key=store.offset_key + b"\0", read_opt=above))

    def items(self, partition: int, after: bytes | None = None,
              ) -> Iterator[tuple[bytes, str, bytes]]:
        """(stored key, invoice id, record) of ``partition`` in key order, after ``after``.

        Scans do not fill RocksDB's block cache: a rebuild or sweep reads every record once,
        and caching them would evict the working set and grow RSS by the whole cache.
        """
        store = self._store
        db = store._dbs.get(partition)
        if db is None:
            return
        options: Any = ReadOptions()  # rocksdict 0.3.29's stub omits fill_cache's argument
        options.fill_cache(False)
        rows = (db.items(from_key=after, read_opt=options) if after is not None
                else db.items(read_opt=options))
        offset_key = store.offset_key
        for raw_key, value in rows:
            if raw_key in (after, offset_key):
                continue
            yield raw_key, decode_key(raw_key), value
