"""A faust transport that hands the agent one fetched batch per topic-partition, not one record.

faust's per-message path (``wait_first`` with four tasks, the conductor, the stream iterator,
per-event acks and sensors) costs ~80 us per record before our code runs (docs/performance.md).
This driver keeps faust in charge of everything else (group membership, the assignor,
assignment and revocation, table recovery, offset commits) and changes only what the fetch loop
yields for the topics registered with :func:`batch_topics`: ONE ``ConsumerMessage`` per
(topic-partition, fetch), whose value is the fetch's records (a list of aiokafka
``ConsumerRecord``) and whose offset is the last record's. Every other topic (the table's
changelog during recovery, faust's own) keeps faust's per-record path untouched.

How commits stay faust's and never pass an unprocessed record: faust commits the longest run of
consecutive acked offsets, where "acked" also covers registered gaps (offsets it never delivered,
e.g. compacted away). When the agent marks a batch of offsets ``first..last`` processed
(:func:`mark_processed`), this driver registers ``first..last-1`` as a gap; faust then acks the
batch message (offset ``last``) and the run reaches ``last + 1``. Registering the gap at fetch
would let it outlive a batch that is skipped or dropped (see :meth:`BatchConsumer.register_gap`).
faust's own gap in the drain loop would include ``last`` itself (listed twice, which breaks the
run detection: commits would advance one batch at a time), ignores a gap after offset 0, and is
skipped for batched topics.

faust's stream iterator skips an event of an older consumer generation, or one dequeued
while flow control is suspended (a rebalance), and acks it unprocessed: for a batch that would
commit a whole fetch nobody processed (issue 10's "committed, absent from the changelog"). A
batch therefore counts as acked only once the agent has called :func:`mark_processed`; a
skipped one is released (so a rebalance's wait for unacked messages does not hang) but not
recorded, and the seek to committed offsets that ends every rebalance fetches it again. That is
faust's pure-Python iterator; its compiled one (faust/_cython/streams.pyx, which runs with the
pinned wheel) acks inline without ``Consumer.ack`` and neither tracks nor acks a skipped event:
the batch stays outstanding, and the queue clearing that ends the rebalance reads it again.

faust also drops delivered batches silently: every ``app.flow_control.resume()`` (the end of a
table recovery, of a rebalance) clears the stream queues, and what they held is never acked and
never read again unless a seek to committed offsets follows. When the group has no committed
offset yet there is none, so the records were lost for good (found by the SIGKILL-after-changelog
test: after the restart's changelog recovery, the fetches made while recovery ended vanished).
This driver registers itself with the flow control: when the queues are cleared, every partition
with a delivered, unprocessed batch is read again from that batch's first offset. And with no
committed offset, the run faust may commit must start at the first offset ever delivered.

This relies on private parts of faust 0.15.3 (pinned exactly in pyproject.toml):
``Consumer._wait_next_records``, ``_read_offset``, ``_gap``, ``_add_gap``,
``_buffered_partitions``, ``_to_message``. tests/unit/test_faust_internals.py fails loudly when
any of them changes.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from typing import Any, cast

from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP
from faust.types.tuples import ConsumerMessage, ack_lock

#: URL scheme of this transport (the ``faust.transports`` entry point in pyproject.toml).
SCHEME = "batchkafka"
#: Upper bound of records in one batch: ~50 ms of the worker's per-record work (~10 us), so a
#: draining backlog still lets due deadlines and ticks through every few tens of milliseconds.
DEFAULT_MAX_RECORDS = 5000
#: Longest wait (seconds) for fetched records in one call (faust's drain loop asks for 1 s).
#: The wait returns early only on records of partitions that were active when it began: a
#: partition faust paused meanwhile because the agent's queue was full (flow control), then
#: resumed, sat with its records fetched until the wait ran out. Measured under a live stream:
#: idle gaps of the agent followed by batches whose records were 1.0 s old, about once a second
#: (alert lateness of ~1 s; docs/watermark.md). Shorter waits pick resumed partitions up.
FETCH_WAIT = 0.05
#: Seconds a partition's commit may stay stuck below records already processed before its
#: records are read again from the committed offset (see BatchConsumer._repair_hole).
HOLE_REPAIR_AFTER = 5.0

_BATCH_TOPICS_ATTR = "_invoice_sync_batch_topics"
_MAX_RECORDS_ATTR = "_invoice_sync_batch_max_records"


def batch_topics(app: Any, topics: Iterable[str], *,
                 max_records: int = DEFAULT_MAX_RECORDS) -> None:
    """Have ``app``'s consumer deliver ``topics`` as batches of at most ``max_records``."""
    setattr(app, _BATCH_TOPICS_ATTR, frozenset(topics))
    setattr(app, _MAX_RECORDS_ATTR, max_records)


def broker_url(broker: str) -> str:
    """``kafka://h:p[,h:p]`` with this transport's scheme instead."""
    return ",".join(SCHEME + "://" + h.strip().removeprefix("kafka://")
                    for h in broker.split(","))


class BatchMessage(ConsumerMessage):
    """A fetch of one topic-partition: ``value`` holds the records, ``offset`` the last one's."""

    __slots__ = ("consumer", "first_offset", "processed")

    def __init__(self, *args: Any, first_offset: int, consumer: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.first_offset = first_offset
        self.consumer = consumer
        #: Set by the agent once the batch's effects are durable (see module docstring).
        self.processed = False


def mark_processed(message: Any) -> None:
    """The agent has applied and persisted ``message``'s batch: its ack may commit it."""
    if isinstance(message, BatchMessage) and not message.processed:
        message.processed = True
        message.consumer.on_processed(message)


def records_of(message: Any) -> Sequence[Any]:
    """The aiokafka ``ConsumerRecord`` list a batch message carries."""
    records: Sequence[Any] = message.value
    return records


class BatchConsumer(faust_aiokafka.Consumer):
    """faust's aiokafka consumer, yielding one message per (topic-partition, fetch)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._refetch: list[asyncio.Future[None]] = []  # seeks back after skipped batches
        self._hole_since: dict[TP, float] = {}
        #: Batches yielded to faust and not yet processed (nor acked unprocessed), per
        #: partition (see _on_queues_cleared and on_processed).
        self._outstanding: dict[TP, set[BatchMessage]] = {}
        #: The lowest offset delivered per partition: where the commit run must start while
        #: the group has no committed offset for it.
        self._first_delivered: dict[TP, int] = {}
        self._queues_cleared = _QueuesCleared(self._on_queues_cleared)
        # mode types the argument as a FlowControlQueue; it only ever calls ``clear()``.
        self.app.flow_control.manage_queue(cast(Any, self._queues_cleared))  # held weakly

    # faust's signature, timeout included
    async def getmany(self, timeout: float) -> AsyncIterator[tuple[TP, Any]]:  # noqa: ASYNC109
        records, active_partitions = await self._wait_next_records(min(timeout, FETCH_WAIT))
        app = self.app
        generation_id = app.consumer_generation_id
        if records is None or self.should_stop:
            return
        batched: frozenset[str] = getattr(app, _BATCH_TOPICS_ATTR, frozenset())
        if not self.flow_active:
            # As faust's getmany: records fetched while flow stopped are dropped and re-read
            # (its seek to committed offsets does nothing where the group has none yet).
            try:
                await self.perform_seek()
            except Exception as exc:
                self.log.warning(f"exception performing seek when flow not active {exc}")
            self._read_again(records, batched)
            return
        limit: int = getattr(app, _MAX_RECORDS_ATTR, DEFAULT_MAX_RECORDS)
        to_message = self._to_message
        fetched = list(records.items())
        for index, (tp, tp_records) in enumerate(fetched):
            if not self.flow_active or app.consumer_generation_id != generation_id:
                self._read_again(dict(fetched[index:]), batched)
                break
            if not (active_partitions is None or tp in active_partitions
                    or tp in self._buffered_partitions):
                self._read_again({tp: tp_records}, batched)
                continue
            app.monitor.track_tp_end_offset(tp, self.highwater(tp))
            if tp.topic not in batched:
                for record in tp_records:
                    yield tp, to_message(tp, record)
                continue
            for start in range(0, len(tp_records), limit):
                chunk = tp_records[start:start + limit]
                # faust's drain loop drops a message below its read offset; for a batch that
                # would leave a hole the commit can never pass (a skipped batch advanced the
                # read offset before the seek re-fetched its records): batches are never
                # dropped, records processed twice are harmless (at-least-once).
                self._read_offset[tp] = None
                message = self._batch_message(tp, chunk)
                self._outstanding.setdefault(tp, set()).add(message)
                self._note_delivered(tp, message.first_offset)
                yield tp, message

    def _note_delivered(self, tp: TP, offset: int) -> None:
        first = self._first_delivered.get(tp)
        if first is None or offset < first:
            self._first_delivered[tp] = offset

    def _read_again(self, records: Mapping[TP, Sequence[Any]], batched: frozenset[str]) -> None:
        """Fetched records of batch topics that are not delivered: their partitions are read
        again from the first of them (the fetch position is already past them)."""
        for tp, tp_records in records.items():
            if tp.topic in batched and tp_records and tp in self.assignment():
                self._note_delivered(tp, tp_records[0].offset)
                self._schedule_seek(tp, tp_records[0].offset)

    def _on_queues_cleared(self) -> None:
        """faust cleared its stream queues (``flow_control.resume()``/``clear()``): a batch
        they held is gone without an ack and its records lie behind the fetch position. Read
        every partition with an unacked batch again from its lowest first offset. A batch that
        was in the agent's hands rather than in a queue is then processed twice: harmless."""
        for tp, messages in list(self._outstanding.items()):
            if not messages:
                continue
            offset = min(m.first_offset for m in messages)
            for message in messages:
                self._unacked_messages.discard(message)  # nothing will ever ack it
            messages.clear()
            if tp in self.assignment():
                self.log.info("stream queues cleared with a batch unprocessed: %r read again "
                              "from %r", tp, offset)
                self._schedule_seek(tp, offset)

    def _schedule_seek(self, tp: TP, offset: int) -> None:
        """Read ``tp`` again from ``offset``, or from lower if something below it must be read
        again too (seeks run later, in order: the lowest target must not be overtaken)."""
        committed = self._committed_offset.get(tp)
        if committed is not None:
            offset = min(offset, committed)
        outstanding = self._outstanding.get(tp)
        if outstanding:
            offset = min(offset, *(m.first_offset for m in outstanding))
        self._refetch = [f for f in self._refetch if not f.done()]
        self._refetch.append(asyncio.ensure_future(self._seek_back(tp, offset)))

    def _batch_message(self, tp: TP, chunk: list[Any]) -> BatchMessage:
        timestamp = chunk[-1].timestamp
        message: BatchMessage = cast(Any, BatchMessage)(
            tp.topic, tp.partition, chunk[-1].offset,
            None if timestamp is None else timestamp / 1000.0,
            chunk[-1].timestamp_type, [], None, chunk, None, 0, 0, tp,
            generation_id=self.app.consumer_generation_id, first_offset=chunk[0].offset,
            consumer=self)
        return message

    def ack(self, message: Any) -> bool:
        if not isinstance(message, BatchMessage):
            plain: bool = super().ack(message)
            return plain
        with ack_lock:  # faust's commit must never see the offset without its gap
            outstanding = self._outstanding.get(message.tp)
            if outstanding is not None:
                outstanding.discard(message)
            if not message.processed:
                # Skipped by faust's stream (old generation, flow suspended): release it (a
                # rebalance waits for unacked messages), never record it, and fetch its
                # records again if the partition is still ours (else its next owner does).
                message.acked = True
                self._unacked_messages.discard(message)
                self.log.info("batch skipped by the stream, read again: %r from offset %r",
                              message.tp, message.first_offset)
                if message.tp in self.assignment():
                    self._schedule_seek(message.tp, message.first_offset)
                return False
            recorded: bool = super().ack(message)
            return recorded

    def on_processed(self, message: BatchMessage) -> None:
        """The agent has made ``message``'s batch durable: it is no longer outstanding (no
        queue clearing can lose it now: faust acks it whatever happens next), and offsets
        first..last-1 count as acked with its own offset.

        Released here, not in :meth:`ack`: faust's compiled stream iterator (faust/_cython/
        streams.pyx, used whenever the extension is built, as in this pinned wheel) acks
        an event inline, never calling ``Consumer.ack``. Released only there, every batch
        ever delivered stayed in ``_outstanding`` with its records until the next queue
        clearing (a rebalance): a backlog drain held the whole backlog in memory, ~1.3 KB per
        record (make bench peak RSS 785 -> 1,680 MiB at 1,000,000 pending, docs/performance.md).
        """
        with ack_lock:
            outstanding = self._outstanding.get(message.tp)
            if outstanding is not None:
                outstanding.discard(message)
        self.register_gap(message)

    def register_gap(self, message: BatchMessage) -> None:
        """Offsets first..last-1 of a processed batch count as acked with its own offset.

        Called when the agent marks the batch processed, just before faust acks it: a gap
        registered at fetch would outlive a batch that is then skipped or dropped from a queue
        cleared by a rebalance, and faust's ``_new_offset`` adds a whole overlapping gap to the
        run even past the highest acked offset, committing records nobody processed. Until the
        ack adds ``last``, the gap lies above every acked offset and commits nothing.
        """
        first, last = message.first_offset, message.offset
        committed = self._committed_offset[message.tp]
        if committed is not None:
            first = max(first, committed)  # below it is committed already
        if last <= first:
            return
        with ack_lock:
            gap = self._gap[message.tp]
            gap.addi(first, last)
            if len(gap.overlap(first, last)) > 1:
                gap.merge_overlaps()  # processed again after a seek: no duplicate offsets

    async def _seek_back(self, tp: TP, offset: int) -> None:
        try:
            await self.seek(tp, offset)
        except Exception as exc:  # revoked meanwhile: the next owner reads from the commit
            self.log.info("no seek back for %r: %r", tp, exc)

    def _new_offset(self, tp: TP) -> int | None:
        if not self._run_starts_at_commit(tp):
            self._repair_hole(tp)
            return None
        self._hole_since.pop(tp, None)
        offset: int | None = super()._new_offset(tp)
        return offset

    def _repair_hole(self, tp: TP) -> None:
        """Records at the committed offset were never processed while later ones were (a
        batch lost in a rebalance's shuffle without a seek after it): if that lasts
        HOLE_REPAIR_AFTER seconds, read the partition again from the committed offset.
        Records processed twice are harmless; a hole would stall the commits for good."""
        now = time.monotonic()
        since = self._hole_since.setdefault(tp, now)
        start = self._run_start(tp)
        if now - since < HOLE_REPAIR_AFTER or start is None or tp not in self.assignment():
            return
        self._hole_since[tp] = now
        self.log.warning("commit stalled below processed records: %r read again from %r",
                         tp, start)
        self._schedule_seek(tp, start)

    def _run_start(self, tp: TP) -> int | None:
        """The offset the next commit run must start at: the committed offset, or with none
        yet, the first offset delivered (faust would commit from whatever was acked first)."""
        committed: int | None = self._committed_offset[tp]
        return committed if committed is not None else self._first_delivered.get(tp)

    def _run_starts_at_commit(self, tp: TP) -> bool:
        """faust lets the run of acked offsets start one past the committed offset (it
        tolerates a missing first offset, and any start with no commit yet); a batch topic's
        run must start AT it, or a record nobody processed would be committed."""
        committed = self._run_start(tp)
        acked = self._acked[tp]
        if committed is None or not acked or tp.topic not in getattr(
                self.app, _BATCH_TOPICS_ATTR, frozenset()):
            return True
        lowest = min(acked)
        gap = self._gap[tp]
        if gap:
            lowest = min(lowest, gap.begin())
        return lowest <= committed

    async def _add_gap(self, tp: TP, offset_from: int, offset_to: int) -> None:
        # The drain loop's gap for a batch would include the batch's own offset: see module doc.
        if tp.topic in getattr(self.app, _BATCH_TOPICS_ATTR, frozenset()):
            return
        await super()._add_gap(tp, offset_from, offset_to)


class _QueuesCleared:
    """Registered with faust's flow control as if it were a queue: its ``clear()`` is called
    whenever faust clears the stream queues (mode's ``FlowControlEvent.clear``)."""

    def __init__(self, on_clear: Callable[[], None]) -> None:
        self._on_clear = on_clear

    def clear(self) -> None:
        self._on_clear()


class Transport(faust_aiokafka.Transport):
    """faust's aiokafka transport with :class:`BatchConsumer`."""

    Consumer = BatchConsumer
