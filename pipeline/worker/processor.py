"""Feeds fetched batches to the correlator and persists what each batch changed.

The unit of work is one fetched batch of one topic-partition (pipeline/worker/transport.py).
Per batch: every record is validated (pipeline/intake.py) and applied to the correlator over
the batch's overlay of the records it touches (pipeline/worker/store.py); alerts are sent and
their delivery awaited as they arise, dead letters too; then the touched records are persisted
(one RocksDB WriteBatch, the changelog produced as a batch and awaited, the changelog offset);
only then is the batch marked processed, so faust's ack and commit come after. Alerts before
state, state before commit.

Failures: a valid record whose handling failed on the infrastructure (failures.py) is retried
with backoff, the batch held; a defective one is dead-lettered and the batch goes on. A batch
whose records cannot be persisted is retried until they are (its offset must not be committed,
and an exception out of the agent would leave it never acked).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from pipeline import intake
from pipeline.contracts import InvoiceIssued, InvoiceSubmitted, TaxAcknowledged
from pipeline.contracts.action import InvoiceAction
from pipeline.correlation.state import UndecodableRecord
from pipeline.logs import get_logger
from pipeline.metrics import Metrics
from pipeline.settings import Settings
from pipeline.worker import killpoint
from pipeline.worker.correlator import Correlator
from pipeline.worker.failures import is_infrastructure, next_backoff
from pipeline.worker.ledgers import EvidenceOutbox, ScopeLedgers
from pipeline.worker.outputs import Outputs
from pipeline.worker.store import BatchInHand, BatchStore, PartitionBatch
from pipeline.worker.wire import to_ack, to_action, to_issued, to_submission

log = get_logger(__name__)

E = TypeVar("E", InvoiceIssued, InvoiceSubmitted, TaxAcknowledged, InvoiceAction)

#: While events flow, a partition's due deadlines are also checked between ticks, at most this
#: often (seconds): an alert then waits for the next batch, not for the next tick. A check that
#: finds the watermark behind costs a dict lookup and, at most this often, a sample request.
DUE_CHECK_SPACING = 0.05
#: Records of a partition checked for expiry per tick (synced past retention, held acks):
#: 500/s per partition walks a 10-million-record worker table in under an hour.
SWEEP_PER_TICK = 500
#: Backoff (seconds) while a batch's records cannot be persisted (e.g. the broker is away).
PERSIST_RETRY_FIRST = 0.1
PERSIST_RETRY_MAX = 5.0


class BatchProcessor:
    """Applies batches of one worker's partitions; one batch at a time (the single agent)."""

    def __init__(self, *, settings: Settings, metrics: Metrics, correlator: Correlator,
                 store: BatchStore, in_hand: BatchInHand, outputs: Outputs,
                 committed_ack_offset: Callable[[int], int | None],
                 request_sample: Callable[[list[int]], None],
                 evidence: EvidenceOutbox | None = None,
                 scopes: ScopeLedgers | None = None) -> None:
        self._settings = settings
        self._metrics = metrics
        self._correlator = correlator
        self._store = store
        self._in_hand = in_hand
        self._outputs = outputs
        #: The group's committed offset of an ack partition, as faust loaded it on assignment.
        self._committed_ack_offset = committed_ack_offset
        #: Has ack partitions' end offsets asked of the broker in the background: a watermark
        #: sample (endoffsets.py). Never awaited here: the agent must not wait on the broker.
        self._request_sample = request_sample
        #: Group-wide scope evidence (pipeline/worker/ledgers.py): what batches observed goes
        #: out before they are persisted; the evidence topic's records fold into the ledgers.
        self._evidence = evidence
        self._scopes = scopes
        self._due_checked: dict[int, float] = {}
        self._sweep_from: dict[int, bytes | None] = {}
        self._event_counters: dict[tuple[str, str], Any] = {}
        #: Records of the batch in hand accepted by intake, counted once per batch.
        self._accepted = 0
        #: The offset after the last processed record, per (topic, partition): the lag gauge.
        self.next_offsets: dict[tuple[str, int], int] = {}

    async def on_batch(self, topic: str, partition: int, records: Sequence[Any]) -> None:
        """Apply one fetched batch of one partition, then persist what it changed."""
        batch = self._store.begin(partition)
        self._in_hand.hold(batch)
        self._accepted = 0
        try:
            if topic == self._settings.topic_ticks:
                await self._on_ticks(partition)
            else:
                acks = topic == self._settings.topic_acknowledged
                for record in records:
                    await self._process(record)
                    if acks:  # read, whatever became of it: the watermark's progress
                        self._correlator.on_ack_read(partition, record.offset)
                self.next_offsets[topic, partition] = records[-1].offset + 1
                await self._fire_due_between_ticks(partition)
            await self._persist(batch)
            if self._evidence is not None:  # what batches observed, every half second
                await self._evidence.flush_due(time.monotonic())
        finally:
            self._in_hand.hold(None)
            if self._accepted:  # one increment per batch, not one per record
                self._count_event(topic, "valid", self._accepted)

    async def _persist(self, batch: PartitionBatch) -> None:
        """Write the batch's records (RocksDB, changelog, offset), retrying until they are.
        Rewriting the same records after a failure is harmless."""
        delay = PERSIST_RETRY_FIRST
        while True:
            try:
                await self._store.persist(batch)
                break
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("persist_retried", partition=batch.partition, retry_in=delay,
                            error=repr(exc)[:500])
                await asyncio.sleep(delay)
                delay = min(delay * 2, PERSIST_RETRY_MAX)
        if batch.changes:
            killpoint.reached("before_commit")

    # -- records --------------------------------------------------------------------------

    async def _process(self, record: Any) -> None:
        """Handle one record; only return once its effect (or its dead letter) is in hand."""
        try:
            try:
                # Most records need nothing awaited (no alert, no dead letter): handled in
                # this call, without a coroutine per step (issue 11's CPU per event).
                pending = self._dispatch(record)
                if pending is not None:
                    await pending
            except Exception as exc:
                if not is_infrastructure(exc):
                    raise
                await self._retrying(record, lambda: self._handle(record), failed=exc)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a defect of this record must not stop the partition
            log.exception("processing_failed", topic=record.topic,
                          partition=record.partition, offset=record.offset)
            error = repr(exc)[:500]
            # The invoice's stored record is in a format this version cannot read: it stays
            # untouched, the event waits in the dead-letter topic for a worker that can.
            reason = ("undecodable_state" if isinstance(exc, UndecodableRecord)
                      else "processing_error")
            exception_class = f"{type(exc).__module__}.{type(exc).__qualname__}"
            await self._retrying(record, lambda: self._outputs.dead_letter(
                record, reason, error, exception_class))

    async def _handle(self, record: Any) -> None:
        pending = self._dispatch(record)
        if pending is not None:
            await pending

    async def _retrying(self, record: Any, work: Callable[[], Awaitable[None]], *,
                        failed: Exception | None = None) -> None:
        """``work()``, repeated after a backoff while it fails on the infrastructure
        (``failed``: the infrastructure failure of a first attempt already made)."""
        delay: float | None = None
        while True:
            if failed is not None:
                delay = next_backoff(delay)
                self._metrics.retries.labels(topic=record.topic).inc()
                log.warning("processing_retried", topic=record.topic,
                            partition=record.partition, offset=record.offset,
                            retry_in=delay, error=repr(failed)[:500])
                await asyncio.sleep(delay)
            try:
                await work()
                return
            except Exception as exc:
                if not is_infrastructure(exc):
                    raise
                failed = exc

    def _dispatch(self, record: Any) -> Awaitable[None] | None:
        """Handle ``record`` as far as it can be without waiting: None when done, else what
        is left to await (alerts to deliver before the state is written, a dead letter)."""
        topic = record.topic
        settings = self._settings
        if topic == settings.topic_issued:
            verdict = intake.classify("issued", record.key, record.value)
            if isinstance(verdict, intake.Accepted):
                self._admit(record, verdict)
                return self._correlator.issued_now(to_issued(verdict.event), record.partition)
            return self._reject(record, verdict)
        if self._scopes is not None and topic == settings.topic_evidence:
            self._scopes.on_evidence(record.key.decode(), record.value)
            return None
        if topic == settings.topic_actions:
            action = intake.classify("action", record.key, record.value)
            if isinstance(action, intake.Accepted):
                self._admit(record, action)
                return self._correlator.on_action(to_action(action.event), record.partition)
            return self._reject(record, action)
        if topic == settings.topic_submitted:
            upload = intake.classify("submitted", record.key, record.value)
            if isinstance(upload, intake.Accepted):
                self._admit(record, upload)
                return self._correlator.on_submitted(to_submission(upload.event),
                                                     record.partition)
            return self._reject(record, upload)
        ack = intake.classify("acknowledged", record.key, record.value)
        # A dead-lettered ack still counts as read: on_batch marks every ack record read.
        if isinstance(ack, intake.Accepted):
            self._admit(record, ack)
            return self._correlator.ack_now(to_ack(ack.event), record.partition)
        return self._reject(record, ack)

    def _admit(self, record: Any, verdict: intake.Accepted[E]) -> None:
        """Count an accepted record (at the batch's end), and its warnings."""
        self._accepted += 1
        for warning in verdict.warnings:
            field = warning.removesuffix("_check_digit")
            self._metrics.taxpayer_id_warnings.labels(field=field).inc()

    def _reject(self, record: Any, verdict: intake.Rejected) -> Awaitable[None]:
        """Count a rejected record; its dead letter, to await before the record counts."""
        self._count_event(record.topic, "invalid")
        return self._outputs.dead_letter(record, verdict.reason, verdict.error)

    def _count_event(self, topic: str, outcome: str, count: int = 1) -> None:
        # Cached label children: ``labels()`` builds and looks up a key on every call.
        counter = self._event_counters.get((topic, outcome))
        if counter is None:
            counter = self._event_counters[topic, outcome] = self._metrics.events.labels(
                topic=topic, outcome=outcome)
        counter.inc(count)

    # -- deadlines ------------------------------------------------------------------------

    async def _on_ticks(self, partition: int) -> None:
        """Ticks queued for one partition count once: the deadline work runs now.

        A tick is never dead-lettered nor retried here: the correlator keeps its invoices
        scheduled (backing off) or isolates a defective one.
        """
        try:
            await self._deadline_work(partition, sweep=True)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("tick_failed", partition=partition, error=repr(exc)[:500])

    async def _fire_due_between_ticks(self, partition: int) -> None:
        """Run the tick's work now if a deadline of ``partition`` is due (rate-limited).

        Ticks stay the guarantee for quiet partitions; this only makes alerts prompter when
        events flow. Same batch and same watermark gating as a tick. A failure is logged, not
        dead-lettered: the records in hand were processed.
        """
        checked = time.monotonic()
        if checked - self._due_checked.get(partition, 0.0) < DUE_CHECK_SPACING:
            return
        self._due_checked[partition] = checked
        due_at = self._correlator.next_due(partition)
        if due_at is None:
            return
        committed = self._committed_ack_offset(partition)
        if self._correlator.watermark(partition, committed=committed, now=time.time()) < due_at:
            # The last sample (the tick's) predates the deadline: a fresh one, taken in the
            # background, lets a caught-up worker fire at one of the next checks rather than at
            # the next tick. Awaiting it here held the whole agent for the round trip (0.5-1.5 s
            # through faust's consumer thread), so the worker fell behind and every check
            # found the watermark behind again (docs/watermark.md, issue 11). Nothing can fire
            # before it is reached: the tick's work (degraded scopes, maintenance) waits for it.
            self._request_sample([partition])
            return
        try:
            await self._deadline_work(partition)
        except asyncio.CancelledError:
            raise
        except Exception:  # e.g. the alert topic unreachable: the next tick retries
            log.exception("due_check_failed", partition=partition)

    async def _deadline_work(self, partition: int, *, sweep: bool = False) -> None:
        await self._correlator.on_tick(partition,
                                       committed=self._committed_ack_offset(partition))
        if sweep:
            await self._correlator.sweep(partition, self._sweep_slice(partition))

    def _sweep_slice(self, partition: int) -> list[tuple[str, bytes]]:
        """The next SWEEP_PER_TICK records of ``partition``'s table, round robin, as the batch
        in hand has left them (the tick's own work may have changed or deleted some)."""
        after = self._sweep_from.get(partition)
        records: list[tuple[str, bytes]] = []
        last = None
        in_hand = self._in_hand
        for raw_key, key, stored in self._store.items(partition, after):
            last = raw_key
            record = in_hand.as_changed(key, stored)
            if record is not None:
                records.append((key, record))
            if len(records) == SWEEP_PER_TICK:
                break
        self._sweep_from[partition] = last if len(records) == SWEEP_PER_TICK else None
        return records
