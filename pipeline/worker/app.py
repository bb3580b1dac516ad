"""The faust application: topics, the invoice table, the single correlating agent, the tick timer.

A thin adapter. Validation lives in :mod:`pipeline.intake`, the rules in
:mod:`pipeline.correlation`, and the ordering of effects in
:class:`~pipeline.worker.correlator.Correlator`.

The unit of work is one fetched batch of one topic-partition (pipeline/worker/transport.py):
faust keeps the group, the assignment, table recovery and the offset commits, and the agent
receives each fetch's records as one event. Per batch: every record is applied to the
correlator over the batch's overlay of the records it touches (alerts are sent and their
delivery awaited as they arise, dead letters awaited); then the touched records are persisted
(one RocksDB WriteBatch, the changelog produced as a batch and awaited, the changelog offset;
pipeline/worker/store.py); only then does the agent take the next event, which acks the batch
and lets faust commit past it. Alerts before state, state before commit.

Why one agent over three topics: issued, acknowledged and tick messages of one partition all touch
the same table keys; a single agent with concurrency 1 applies them one at a time, so no two
coroutines ever interleave a read-modify-write of one invoice (FAUST.md trap 3).

Why a tick topic: faust timers run on every worker and cannot write tables (FAUST.md traps 1, 2).
Each worker's timer sends one tick per second to the tick partitions it actively owns; the tick
arrives in stream iteration on that partition, so deadline processing may write the table there,
and only the partition's owner ever sees it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from typing import Any, TypeVar, cast

import faust
from faust.types import TP

from pipeline import intake
from pipeline.api_tokens import TokenSet
from pipeline.contracts import InvoiceIssued, TaxAcknowledged
from pipeline.contracts.action import InvoiceAction
from pipeline.correlation.alerts import Alert
from pipeline.correlation.outage import OutageDetector
from pipeline.correlation.ratelimit import TokenBucket
from pipeline.correlation.rules import synced_transition
from pipeline.correlation.sla import SlaRules, Thresholds
from pipeline.correlation.state import InvoiceState, UndecodableRecord
from pipeline.kafka_options import faust_credentials
from pipeline.logs import get_logger
from pipeline.metrics import AGE_BANDS, Metrics
from pipeline.settings import Settings
from pipeline.topics import MAX_MESSAGE_BYTES
from pipeline.worker import killpoint
from pipeline.worker.correlator import Correlator
from pipeline.worker.deadletter import dead_letter_headers
from pipeline.worker.failures import is_infrastructure, next_backoff
from pipeline.worker.guard import Routes, guard
from pipeline.worker.store import BatchInHand, BatchStore, PartitionBatch
from pipeline.worker.transport import batch_topics, broker_url, mark_processed, records_of
from pipeline.worker.wire import (
    alert_headers,
    alert_key,
    alert_source,
    alert_to_json,
    to_ack,
    to_action,
    to_issued,
)

log = get_logger(__name__)

E = TypeVar("E", InvoiceIssued, TaxAcknowledged, InvoiceAction)

PRODUCER_LINGER_MS = 5
PRODUCER_BATCH_BYTES = 1024 * 1024
#: While events flow, a partition's due deadlines are also checked between ticks, at most this
#: often (seconds): an alert then waits for the next event, not for the next tick.
DUE_CHECK_SPACING = 0.1
#: Records of a partition checked for expiry per tick (synced past retention, held acks):
#: 500/s per partition walks a 10-million-record worker table in under an hour.
SWEEP_PER_TICK = 500
#: Backoff (seconds) while a batch's records cannot be persisted (e.g. the broker is away).
PERSIST_RETRY_FIRST = 0.1
PERSIST_RETRY_MAX = 5.0
#: How long one end-offset request (the watermark's sample) may take before the broker counts
#: as lost.
END_OFFSETS_TIMEOUT = 5.0


class CommitSensor(faust.Sensor):
    """Records when offsets were last committed (a stuck commit is a silent failure otherwise)."""

    def __init__(self, metrics: Metrics) -> None:
        super().__init__()
        self._metrics = metrics

    def on_commit_completed(self, consumer: Any, state: Any) -> None:
        self._metrics.last_commit.set(time.time())


class InvoiceSyncApp:
    """Builds and holds the faust app and the correlator for one worker process."""

    def __init__(self, settings: Settings, metrics: Metrics, sla: SlaRules | None = None,
                 tokens: TokenSet | None = None) -> None:
        self.settings = settings
        self.metrics = metrics
        s = settings
        #: The operator API's routes and the roles they need (filled by register_views).
        self.routes = Routes()
        self.app = faust.App(
            s.app_id,
            broker=broker_url(s.broker),
            broker_credentials=faust_credentials(s),
            # faust 0.15 has no "rocksdict://" URL: its RocksDB store runs on rocksdict when
            # use_rocksdict is set (python-rocksdb is unmaintained).
            store="rocksdb://",
            datadir=str(s.data_dir),
            topic_partitions=s.partitions,
            topic_replication_factor=s.replication_factor,
            web_enabled=True,
            web_port=s.web_port,
            web_bind=s.web_bind,
            # Only our views answer (worker/guard.py): faust's /router, /table, /graph, stats
            # and /performance would expose topology and table data without authentication.
            web_router_enabled=False,
            web_tables_enabled=False,
            web_stats_enabled=False,
            web_graph_enabled=False,
            web_metrics_enabled=False,
            web_application_options={"middlewares": [guard(self.routes, tokens)]},
            # What this worker advertises to the group: key lookups are routed here for the
            # partitions it owns (faust's table_route), and /pending fans out to it.
            # None: faust's default, http://HOSTNAME:WEB_PORT.
            canonical_url=s.advertised_url,
            consumer_auto_offset_reset="earliest",
            consumer_group_instance_id=s.instance_id,
            broker_session_timeout=s.session_timeout,
            broker_heartbeat_interval=max(1.0, s.session_timeout / 10),
            broker_request_timeout=max(40.0, s.session_timeout + 10),
            broker_commit_interval=1.0,
            producer_acks=-1,
            # Every table write is a changelog record: let them share produce requests instead
            # of waiting for one small batch per partition per round trip (docs/performance.md).
            producer_linger_ms=PRODUCER_LINGER_MS,
            producer_max_batch_size=PRODUCER_BATCH_BYTES,
            producer_max_request_size=MAX_MESSAGE_BYTES + 64 * 1024,
            consumer_max_fetch_size=MAX_MESSAGE_BYTES + 64 * 1024,
            stream_wait_empty=True,
            # Each event is a batch of up to transport.DEFAULT_MAX_RECORDS records: a few
            # queued batches keep the agent busy; more would only hold fetched records in RAM.
            stream_buffer_maxsize=16,
            table_standby_replicas=0,
            rocksdb_options={
                "block_cache_size": s.rocksdb_block_cache_bytes,
                "write_buffer_size": s.rocksdb_write_buffer_bytes,
                "max_write_buffer_number": 2,
                "block_cache_compressed_size": 0,
                "use_rocksdict": True,
            },
        )
        self.app.sensors.add(CommitSensor(metrics))
        raw: dict[str, Any] = {"key_type": bytes, "value_type": bytes,
                               "key_serializer": "raw", "value_serializer": "raw"}
        self.source = self.app.topic(s.topic_issued, s.topic_acknowledged, s.topic_ticks,
                                     s.topic_actions, partitions=s.partitions, **raw)
        # Operators' close/reopen actions, sent by the API on the invoice's owner.
        self.actions = self.app.topic(s.topic_actions, partitions=s.partitions, **raw)
        self.ticks = self.app.topic(s.topic_ticks, partitions=s.partitions, **raw)
        # Routes invoice lookups to the worker owning the key's partition (see worker/api.py).
        self.issued = self.app.topic(s.topic_issued, partitions=s.partitions, **raw)
        self.alerts = self.app.topic(s.topic_alerts, **raw)
        self.dlq = self.app.topic(s.topic_dlq, **raw)
        batch_topics(self.app, [s.topic_issued, s.topic_acknowledged, s.topic_ticks,
                                s.topic_actions])
        # faust recovers this table from its changelog and routes lookups by it; the agent
        # writes its RocksDB and changelog a batch at a time through the batch store.
        self.table = self.app.Table(
            "invoices", key_type=str, value_type=bytes,
            partitions=s.partitions, help="Per-invoice sync state.")
        self.batch_store = BatchStore(self.table, self._changelog_producer)
        self._in_hand = BatchInHand()
        default = Thresholds(warn_after=s.warn_after, critical_after=s.critical_after)
        self.correlator = Correlator(
            store=self._in_hand,
            sla=sla or SlaRules(default=default),
            emit=self.emit_alerts,
            outages=OutageDetector(window_seconds=s.degraded_window,
                                   min_due=s.degraded_min_invoices,
                                   share_threshold=s.degraded_share),
            drain=TokenBucket(rate_per_second=s.alert_rate, burst=s.alert_burst),
            max_clock_skew=s.max_clock_skew,
            retention=s.retention,
            on_transition=self._count_transition,
            on_isolated=lambda reason: metrics.isolated.labels(reason=reason).inc(),
        )
        self._assigned_generation = 0
        self._built_generation = -1
        self._next_offsets: dict[TP, int] = {}
        self._due_checked: dict[int, float] = {}
        self._sweep_from: dict[int, bytes | None] = {}
        self._event_counters: dict[tuple[str, str], Any] = {}
        cast(Any, self.app.on_partitions_assigned).connect(self._on_assigned)
        self.app.agent(self.source, name="correlate", concurrency=1)(self._correlate)
        self.app.timer(s.tick_interval, name="tick")(self._send_ticks)
        from pipeline.worker.web import register_views

        register_views(self)

    # -- agent ----------------------------------------------------------------------------

    async def _correlate(self, stream: Any) -> None:
        async for event in stream.events():
            message = event.message
            await self._on_batch(message.topic, message.partition, records_of(message))
            # The batch's effects are durable: once the stream acks it, faust may commit past it.
            mark_processed(message)

    async def _on_batch(self, topic: str, partition: int, records: Sequence[Any]) -> None:
        """Apply one fetched batch of one partition, then persist what it changed."""
        self._ensure_rebuilt()
        batch = self.batch_store.begin(partition)
        self._in_hand.hold(batch)
        try:
            if topic == self.settings.topic_ticks:
                await self._on_tick_batch(partition)
            else:
                for record in records:
                    await self._process(record)
                self._next_offsets[TP(topic, partition)] = records[-1].offset + 1
                await self._fire_due_between_ticks(partition)
            await self._persist(batch)
        finally:
            self._in_hand.hold(None)

    async def _persist(self, batch: PartitionBatch) -> None:
        """Write the batch's records (RocksDB, changelog, offset), retrying until they are.

        The batch's offset must not be acked before its state is durable, and an exception out
        of the agent would leave it never acked (faust does not deliver it again): so any
        failure here (a changelog send refused, a timeout) is retried with backoff. Rewriting
        the same records is harmless.
        """
        delay = PERSIST_RETRY_FIRST
        while True:
            try:
                await self.batch_store.persist(batch)
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

    async def _on_tick_batch(self, partition: int) -> None:
        """Ticks queued for one partition count once: the deadline work runs now.

        A tick is never dead-lettered nor retried here: the correlator keeps its invoices
        scheduled (backing off) or isolates a defective one.
        """
        try:
            await self._on_tick(partition, sweep=True)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("tick_failed", partition=partition, error=repr(exc)[:500])

    async def _process(self, message: Any) -> None:
        """Handle one record; only return once its effect (or its dead letter) is durable.

        An infrastructure failure (failures.py) is retried with backoff, the offset held: the
        event was valid. Any other failure is a defect of the record: it is dead-lettered
        (the partition goes on).
        """
        try:
            await self._retrying(message, lambda: self._dispatch(message))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a defect of this record must not stop the partition
            log.exception("processing_failed", topic=message.topic,
                          partition=message.partition, offset=message.offset)
            error = repr(exc)[:500]
            # The invoice's stored record is in a format this version cannot read: it stays
            # untouched, the event waits in the dead-letter topic for a worker that can.
            reason = ("undecodable_state" if isinstance(exc, UndecodableRecord)
                      else "processing_error")
            exception_class = f"{type(exc).__module__}.{type(exc).__qualname__}"
            await self._retrying(message, lambda: self._dead_letter(message, reason, error,
                                                                    exception_class))

    async def _retrying(self, message: Any, work: Callable[[], Awaitable[None]]) -> None:
        """``work()``, repeated after a backoff while it fails on the infrastructure."""
        delay: float | None = None
        while True:
            try:
                await work()
                return
            except Exception as exc:
                if not is_infrastructure(exc):
                    raise
                delay = next_backoff(delay)
                self.metrics.retries.labels(topic=message.topic).inc()
                log.warning("processing_retried", topic=message.topic,
                            partition=message.partition, offset=message.offset,
                            retry_in=delay, error=repr(exc)[:500])
                await asyncio.sleep(delay)

    async def _dispatch(self, message: Any) -> None:
        s = self.settings
        if message.topic == s.topic_actions:
            action = await self._admit(message, intake.classify("action", message.key,
                                                                message.value))
            if action is not None:
                await self.correlator.on_action(to_action(action), message.partition)
            return
        if message.topic == s.topic_issued:
            issued = await self._admit(message, intake.classify("issued", message.key,
                                                                message.value))
            if issued is not None:
                await self.correlator.on_issued(to_issued(issued), message.partition)
        else:
            ack = await self._admit(message, intake.classify("acknowledged", message.key,
                                                             message.value))
            if ack is not None:
                await self.correlator.on_ack(to_ack(ack), message.partition, message.offset)
            else:
                self.correlator.on_unusable_ack(message.partition, message.offset)

    async def _fire_due_between_ticks(self, partition: int) -> None:
        """Run the tick's work now if a deadline of ``partition`` is due (rate-limited).

        Ticks stay the guarantee for quiet partitions; this only makes alerts prompter when
        events flow. Same stream iteration and same watermark gating as a tick. A failure is
        logged, not dead-lettered: the event in hand was processed.
        """
        checked = time.monotonic()
        if checked - self._due_checked.get(partition, 0.0) < DUE_CHECK_SPACING:
            return
        self._due_checked[partition] = checked
        index = self.correlator.deadlines.get(partition)
        due_at = None if index is None else index.peek()
        if due_at is None or due_at > self.correlator.clock():
            return
        try:
            await self._on_tick(partition)
        except asyncio.CancelledError:
            raise
        except Exception:  # e.g. the alert topic unreachable: the next tick retries
            log.exception("due_check_failed", partition=partition)

    async def _admit(self, message: Any, verdict: intake.Accepted[E] | intake.Rejected,
                     ) -> E | None:
        """Count the verdict; dead-letter a rejected record. The event if it may flow on."""
        if isinstance(verdict, intake.Rejected):
            self._count_event(message.topic, "invalid")
            await self._dead_letter(message, verdict.reason, verdict.error)
            return None
        self._count_event(message.topic, "valid")
        for warning in verdict.warnings:
            field = warning.removesuffix("_check_digit")
            self.metrics.taxpayer_id_warnings.labels(field=field).inc()
        return verdict.event

    def _count_event(self, topic: str, outcome: str) -> None:
        # Cached label children: ``labels()`` builds and looks up a key on every call.
        counter = self._event_counters.get((topic, outcome))
        if counter is None:
            counter = self._event_counters[topic, outcome] = self.metrics.events.labels(
                topic=topic, outcome=outcome)
        counter.inc()

    def _ensure_rebuilt(self) -> None:
        """Re-derive the deadline heaps and pending book from the table once per assignment,
        on the first message of any topic after it (table recovery is over by then)."""
        if self._built_generation != self._assigned_generation:
            self._built_generation = self._assigned_generation
            self.correlator.rebuild(self._table_records(), self.active_partitions())
            self._refresh_pending_gauges()

    async def _on_tick(self, partition: int, *, sweep: bool = False) -> None:
        tp = TP(self.settings.topic_acknowledged, partition)
        await self.correlator.on_tick(partition, committed=self._committed(tp))
        if sweep:
            await self.correlator.sweep(partition, self._sweep_slice(partition))

    def _sweep_slice(self, partition: int) -> list[tuple[str, bytes]]:
        """The next SWEEP_PER_TICK records of ``partition``'s table, round robin.

        Records of the tick's own partition only: deleting one writes its tombstone to the
        changelog partition of the event in hand.
        """
        after = self._sweep_from.get(partition)
        records: list[tuple[str, bytes]] = []
        last = None
        in_hand = self._in_hand
        for raw_key, key, stored in self._partition_items(partition, after):
            last = raw_key
            # The batch in hand may have changed or deleted the record (the tick's own work).
            record = in_hand.as_changed(key, stored)
            if record is not None:
                records.append((key, record))
            if len(records) == SWEEP_PER_TICK:
                break
        self._sweep_from[partition] = last if len(records) == SWEEP_PER_TICK else None
        return records

    def _partition_items(self, partition: int, after: bytes | None = None,
                         ) -> Iterator[tuple[bytes, str, bytes]]:
        """(stored key, invoice id, record) of one partition's table in key order, after
        ``after`` (faust has no per-partition iteration; the batch store reads RocksDB)."""
        return self.batch_store.items(partition, after)

    def _changelog_producer(self) -> Any:
        # faust's own aiokafka producer (same connection, credentials and lifecycle; faust
        # flushes it before every commit). Private API of the pinned faust, checked by
        # tests/unit/test_faust_internals.py.
        return cast(Any, self.app.producer)._ensure_producer()

    # -- effects --------------------------------------------------------------------------

    async def emit_alerts(self, alerts: Sequence[Alert]) -> None:
        """Send alerts keyed by invoice id and wait until the broker has every one."""
        source = alert_source(self.settings.app_id)
        pending = [
            await self.alerts.send(key=alert_key(a), value=alert_to_json(a),
                                   headers=alert_headers(a, source))
            for a in alerts
        ]
        await asyncio.gather(*pending)
        killpoint.reached("after_alerts")
        for alert in alerts:
            log.info("alert_emitted", alert_id=alert.alert_id, kind=alert.kind,
                     severity=alert.severity, invoice_id=alert.invoice_id,
                     region_code=alert.region_code, message=alert.message)

    async def _dead_letter(self, message: Any, reason: str, error: str,
                           exception_class: str | None = None) -> None:
        # The original headers and timestamp travel with it, so a replay is the same record.
        headers = dead_letter_headers(message.topic, message.partition, message.offset,
                                      reason, error, original=message.headers,
                                      exception_class=exception_class)
        # faust's send only queues the record: await its delivery too, so the event (and its
        # offset) is done only once the dead letter is in Kafka; a failure raises to the caller,
        # which retries (failures.py). ``message`` is an aiokafka record (timestamp in ms);
        # faust's send takes seconds.
        delivery = await self.dlq.send(key=message.key, value=message.value, headers=headers,
                                       timestamp=message.timestamp / 1000)
        await delivery
        self.metrics.dead_letters.labels(topic=message.topic, reason=reason).inc()
        log.warning("dead_lettered", topic=message.topic, partition=message.partition,
                    offset=message.offset, reason=reason, error=error)

    # -- timer ----------------------------------------------------------------------------

    async def _send_ticks(self) -> None:
        await self._sample_end_offsets()
        for partition in sorted(self.active_partitions()):
            await self.ticks.send(value=b"", partition=partition)
        self._refresh_lag_gauges()
        self._refresh_pending_gauges()

    async def _sample_end_offsets(self) -> None:
        """Ask the broker for the ack partitions' end offsets: the watermark's samples.

        The time is read BEFORE the request is sent, so every ack appended before it lies below
        the answer (docs/watermark.md). A failed request adds no sample: the watermark stays.
        """
        partitions = sorted(self.active_partitions())
        if not partitions:
            return
        tps = [TP(self.settings.topic_acknowledged, p) for p in partitions]
        watermarks = self.correlator.watermarks
        at = time.time()
        try:
            ends = await asyncio.wait_for(self.app.consumer.highwaters(*tps),
                                          timeout=END_OFFSETS_TIMEOUT)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # aiokafka errors, timeout, consumer restarting
            log.warning("end_offsets_failed", error=repr(exc)[:200])
            return
        for tp, end in ends.items():
            if tp.partition in partitions:
                watermarks.sample(tp.partition, at, end)

    # -- bookkeeping ----------------------------------------------------------------------

    async def _on_assigned(self, sender: Any, assigned: Any, **kwargs: Any) -> None:
        self._assigned_generation += 1

    def state_rebuilt(self) -> bool:
        """The derived indexes match the current assignment (rebuilt on its first tick)."""
        return self._built_generation == self._assigned_generation

    def active_partitions(self) -> set[int]:
        """Tick partitions this worker actively owns (standbys excluded)."""
        topic = self.settings.topic_ticks
        return {tp.partition for tp in self.app.assignor.assigned_actives() if tp.topic == topic}

    def _table_records(self) -> Iterator[tuple[str, bytes]]:
        # A generator: a million records are rebuilt one at a time, never held as one list
        # (which left the process ~300 MB larger after a restart; docs/performance.md).
        return ((key, record) for partition in sorted(self.active_partitions())
                for _, key, record in self._partition_items(partition))

    def _end_offset(self, tp: TP) -> int | None:
        try:
            end: int | None = self.app.consumer.highwater(tp)
        except Exception:  # not assigned (yet) or consumer restarting
            return None
        return end

    def _committed(self, tp: TP) -> int | None:
        # The group's committed offset (the next offset to read) as faust loaded it on
        # assignment: it stands for "read up to here" before any message was processed.
        consumer: Any = self.app.consumer
        committed: int | None = consumer._committed_offset.get(tp)
        return committed

    def _count_transition(self, old: InvoiceState | None, new: InvoiceState | None,
                          alerts: Sequence[Alert]) -> None:
        m = self.metrics
        for alert in alerts:
            m.alerts.labels(kind=alert.kind, severity=alert.severity,
                            region_code=m.region(alert.region_code or "")).inc()
            if alert.kind == "rejected":
                m.rejections.labels(reason_code=m.reason_code(alert.reason_code or "")).inc()
        sync = synced_transition(old, new)
        if sync is not None:
            m.latency.labels(region_code=m.region(sync.region_code),
                             source_system=m.source(sync.source_system)).observe(
                sync.latency_seconds)

    def _refresh_pending_gauges(self) -> None:
        m = self.metrics
        m.pending.clear()
        for band in AGE_BANDS:
            m.pending.labels(region_code="other", age_band=band).set(0)
        for (region, band), count in self.correlator.pending.counts.items():
            m.pending.labels(region_code=m.region(region), age_band=band).inc(count)
        m.oldest_pending.set(self.correlator.pending.oldest_issued_at() or 0)
        m.degraded.clear()
        for scope, value in self.correlator.outages.active():
            m.degraded.labels(scope=scope, value=m.region(value) if scope == "region_code"
                              else m.source(value)).set(1)

    def _refresh_lag_gauges(self) -> None:
        s, m = self.settings, self.metrics
        now = time.time()
        marks = []
        for topic in (s.topic_issued, s.topic_acknowledged):
            lag = 0
            for partition in self.active_partitions():
                tp = TP(topic, partition)
                end, committed = self._end_offset(tp), self._committed(tp)
                if end is not None:
                    lag += max(0, end - max(self._next_offsets.get(tp, 0), committed or 0))
                if topic == s.topic_acknowledged:
                    marks.append(self.correlator.watermarks.value(
                        partition, committed=committed, now=now))
            m.lag.labels(topic=topic).set(lag)
        if marks:
            m.watermark.set(min(marks))
