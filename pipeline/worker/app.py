"""The faust application: topics, the invoice table, the single agent, the tick timer, gauges.

A thin adapter. Validation lives in :mod:`pipeline.intake`, the rules in
:mod:`pipeline.correlation`, the ordering of effects per invoice in
:class:`~pipeline.worker.correlator.Correlator`, and the batch protocol (apply a fetched batch,
persist it, then let faust commit) in :class:`~pipeline.worker.processor.BatchProcessor`.
faust keeps the group, the assignment, table recovery and the offset commits; its consumer
delivers each fetch of one partition as one event (pipeline/worker/transport.py).

Why one agent over three topics: issued, acknowledged and tick messages of one partition all touch
the same table keys; a single agent with concurrency 1 applies them one batch at a time, so no
two coroutines ever interleave a read-modify-write of one invoice (FAUST.md trap 3).

Why a tick topic: faust timers run on every worker and cannot write tables (FAUST.md traps 1, 2).
Each worker's timer sends one tick per second to the tick partitions it actively owns; the tick
arrives in stream iteration on that partition, so deadline processing may write the table there,
and only the partition's owner ever sees it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any, cast

import faust
from faust.types import TP

from pipeline.api_tokens import TokenSet
from pipeline.correlation.causes import CausePolicy
from pipeline.correlation.evidence import LedgerPolicy
from pipeline.correlation.maintenance import MaintenanceCalendar
from pipeline.correlation.ratelimit import TokenBucket
from pipeline.correlation.sla import SlaRules, Thresholds
from pipeline.kafka_options import aiokafka_options, faust_credentials
from pipeline.logs import get_logger
from pipeline.metrics import AGE_BANDS, Metrics
from pipeline.settings import Settings
from pipeline.topics import MAX_MESSAGE_BYTES
from pipeline.worker.correlator import Correlator, Transition
from pipeline.worker.declared import DeclaredWindows
from pipeline.worker.delivery import DeliveryTracker
from pipeline.worker.endoffsets import EndOffsetClient, EndOffsetSampler
from pipeline.worker.follow import follow
from pipeline.worker.guard import Routes, guard
from pipeline.worker.ledger_view import LedgerView
from pipeline.worker.ledgers import EvidenceOutbox, ScopeLedgers
from pipeline.worker.outputs import Outputs
from pipeline.worker.processor import BatchProcessor
from pipeline.worker.rebuild import IndexRebuild
from pipeline.worker.store import BatchInHand, BatchStore, decode_key
from pipeline.worker.table_manager import PromptTableManager
from pipeline.worker.transport import batch_topics, broker_url, mark_processed, records_of

log = get_logger(__name__)

#: No linger: every send of the batched worker is awaited by the single agent (a batch's
#: changelog, which the batch store builds as one producer batch; alerts; dead letters), so a
#: linger only adds its length to each wait: 5 ms (the per-record worker's setting, which let
#: per-record changelog sends share requests) cost ~5 ms per batch and per deadline pass and
#: measurably lengthened the agent's lag behind its inputs (docs/watermark.md, issue 11).
PRODUCER_LINGER_MS = 0
PRODUCER_BATCH_BYTES = 1024 * 1024


class CommitSensor(faust.Sensor):
    """Records when offsets were last committed (a stuck commit is a silent failure otherwise)."""

    def __init__(self, metrics: Metrics) -> None:
        super().__init__()
        self._metrics = metrics

    def on_commit_completed(self, consumer: Any, state: Any) -> None:
        self._metrics.last_commit.set(time.time())


class InvoiceSyncApp:
    """Builds and holds the faust app, the correlator and the batch processor of one worker."""

    def __init__(self, settings: Settings, metrics: Metrics, sla: SlaRules | None = None,
                 tokens: TokenSet | None = None,
                 maintenance: MaintenanceCalendar | None = None) -> None:
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
            producer_linger_ms=PRODUCER_LINGER_MS,
            producer_max_batch_size=PRODUCER_BATCH_BYTES,
            producer_max_request_size=MAX_MESSAGE_BYTES + 64 * 1024,
            consumer_max_fetch_size=MAX_MESSAGE_BYTES + 64 * 1024,
            stream_wait_empty=True,
            # Each event is a batch of up to transport.DEFAULT_MAX_RECORDS records: a few
            # queued batches keep the agent busy; more would only hold fetched records in RAM.
            stream_buffer_maxsize=16,
            table_standby_replicas=0,
            TableManager=PromptTableManager,
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
        # The submitted topic (optional) is one more co-partitioned input of the same agent.
        # The evidence topic carries observations keyed by scope (not by invoice) to the owner
        # of the scope's ledger: co-partitioned too, so that owner is a member of the group.
        inputs = [s.topic_issued, s.topic_acknowledged, s.topic_ticks, s.topic_actions,
                  s.topic_evidence]
        if s.topic_submitted is not None:
            inputs.append(s.topic_submitted)
        self.source = self.app.topic(*inputs, partitions=s.partitions, **raw)
        # Operators' close/reopen actions, sent by the API on the invoice's owner.
        self.actions = self.app.topic(s.topic_actions, partitions=s.partitions, **raw)
        self.ticks = self.app.topic(s.topic_ticks, partitions=s.partitions, **raw)
        # Routes invoice lookups to the worker owning the key's partition (see worker/api.py).
        self.issued = self.app.topic(s.topic_issued, partitions=s.partitions, **raw)
        self.alerts = self.app.topic(s.topic_alerts, **raw)
        self.dlq = self.app.topic(s.topic_dlq, **raw)
        self.evidence = self.app.topic(s.topic_evidence, partitions=s.partitions, **raw)
        # Windows declared through POST /maintenance: every worker reads the topic whole.
        self.maintenance_topic = self.app.topic(s.topic_maintenance, **raw)
        self.declared = DeclaredWindows(maintenance, self._use_calendar)
        batch_topics(self.app, inputs)  # every input, the submitted topic included
        # faust recovers this table from its changelog and routes lookups by it; the agent
        # writes its RocksDB and changelog a batch at a time through the batch store.
        self.table = self.app.Table(
            "invoices", key_type=str, value_type=bytes,
            partitions=s.partitions, help="Per-invoice sync state.")
        self.batch_store = BatchStore(self.table, self._changelog_producer)
        self.batch_store.check_encoding()
        # The group's scope ledgers, each written by the owner of its evidence partition only.
        self.ledger_table = self.app.Table(
            "scope_ledgers", key_type=str, value_type=bytes,
            partitions=s.partitions, help="Scope evidence and degraded episodes.")
        ledger_policy = LedgerPolicy(window_seconds=s.degraded_window,
                                     min_due=s.degraded_min_invoices, share=s.degraded_share)
        self.ledger_view = LedgerView(ledger_policy)
        tracked = s.topic_submitted is not None
        self.scopes = scopes = ScopeLedgers(
            self.ledger_table, self.ledger_view, policy=ledger_policy, partitions=s.partitions,
            submissions_tracked=tracked, maintenance=maintenance)
        evidence = EvidenceOutbox(self.evidence, s.partitions, ledger_policy)
        in_hand = BatchInHand()
        outputs = Outputs(self.alerts, self.dlq, metrics, s.app_id)
        default = Thresholds(warn_after=s.warn_after, critical_after=s.critical_after)
        self.correlator = Correlator(
            store=in_hand,
            sla=sla or SlaRules(default=default),
            emit=outputs.emit_alerts,
            drain=TokenBucket(rate_per_second=s.alert_rate, burst=s.alert_burst),
            max_clock_skew=s.max_clock_skew,
            retention=s.retention,
            on_transition=self._count_transition,
            on_isolated=lambda reason: metrics.isolated.labels(reason=reason).inc(),
            maintenance=maintenance,
            submissions_tracked=tracked,
            scope_evidence=self.ledger_view.lookup,
            cause_policy=CausePolicy(min_due=s.degraded_min_invoices, share=s.degraded_share,
                                     min_silence_seconds=s.cause_min_silence),
            observe=evidence.add,
            scopes=scopes,
        )
        self.delivery = DeliveryTracker()
        # Its own connection: faust's consumer.highwaters waits behind the fetches.
        self.end_offset_client = EndOffsetClient(aiokafka_options(s))
        self.end_offsets = EndOffsetSampler(
            self.correlator.watermarks, self.end_offset_client,
            topic=s.topic_acknowledged, settle=s.reconnect_settle)
        self.rebuild = IndexRebuild(
            self.correlator, active=self.active_partitions,
            records=self.batch_store.scan, invoice_id_of=decode_key,
            # faust sets this as soon as a rebalance starts, before it waits for the agent.
            interrupted=lambda: bool(cast(Any, self.app).rebalancing))
        self.processor = BatchProcessor(
            settings=s, metrics=metrics, correlator=self.correlator, store=self.batch_store,
            in_hand=in_hand, outputs=outputs,
            committed_ack_offset=lambda p: self._committed(TP(s.topic_acknowledged, p)),
            request_sample=self.end_offsets.request, evidence=evidence, scopes=scopes)
        cast(Any, self.app.on_partitions_assigned).connect(self._on_assigned)
        cast(Any, self.app.on_before_shutdown).connect(self._on_shutdown)
        self.app.agent(self.source, name="correlate", concurrency=1)(self._correlate)
        self.app.timer(s.tick_interval, name="tick")(self._send_ticks)
        self.app.task(self._follow_ledgers)
        self.app.task(self._follow_maintenance)

    # -- agent ----------------------------------------------------------------------------

    async def _correlate(self, stream: Any) -> None:
        async for event in stream.events():
            message = event.message
            # The indexes of newly assigned partitions are rebuilt in slices that yield to the
            # loop (rebuild.py); a rebalance that starts meanwhile interrupts it.
            if not self.rebuild.complete() and await self.rebuild.ensure():
                self._refresh_pending_gauges()
            await self.processor.on_batch(message.topic, message.partition,
                                          records_of(message))
            # The batch's effects are durable: once the stream acks it, faust may commit past it.
            mark_processed(message)

    async def _follow_ledgers(self) -> None:
        """Every worker's view of all ledgers: their changelog, read whole (ledger_view.py)."""
        topic = self.ledger_table.changelog_topic.get_topic_name()
        await follow(self.ledger_view.apply, topic, self.settings.partitions,
                     aiokafka_options(self.settings))

    async def _follow_maintenance(self) -> None:
        """Every worker applies every declared maintenance window (declared.py)."""
        s = self.settings
        await follow(self.declared.apply, s.topic_maintenance, s.partitions, aiokafka_options(s))

    def _use_calendar(self, calendar: MaintenanceCalendar | None) -> None:
        """The windows file plus the declared windows, now in force (declared.py)."""
        self.correlator.maintenance = calendar
        self.scopes.maintenance = calendar

    def _changelog_producer(self) -> Any:
        # faust's own aiokafka producer (same connection, credentials and lifecycle; faust
        # flushes it before every commit). Private API of the pinned faust, checked by
        # tests/unit/test_faust_internals.py.
        return cast(Any, self.app.producer)._ensure_producer()

    # -- timer ----------------------------------------------------------------------------

    async def _send_ticks(self) -> None:
        await self.end_offsets.sample(self.active_partitions())
        for partition in sorted(self.active_partitions()):
            await self.ticks.send(value=b"", partition=partition)
        self._refresh_lag_gauges()
        self._refresh_pending_gauges()

    # -- bookkeeping ----------------------------------------------------------------------

    async def _on_assigned(self, sender: Any, assigned: Any, **kwargs: Any) -> None:
        # Before any event is processed: commits must wait for what faust's producer buffer
        # holds (delivery.py; the batch store's own changelog sends are awaited anyway).
        self.delivery.install(self.app.producer.buffer)
        ticks = self.settings.topic_ticks
        partitions = {tp.partition for tp in assigned if tp.topic == ticks}
        self.rebuild.on_assigned(partitions)
        # The rebuild runs in the agent on its first event: on a quiet input that was the
        # timer's first tick, up to a tick interval after recovery (a second of each restart).
        # A tick now wakes the agent as soon as faust fetches; sent from a task, so the
        # rebalance never waits on the producer.
        cast(Any, self.app).add_future(self._wake(partitions))

    async def _wake(self, partitions: set[int]) -> None:
        """One tick to each of ``partitions`` (what the timer sends, a tick interval early)."""
        try:
            for partition in sorted(partitions):
                await self.ticks.send(value=b"", partition=partition)
        except Exception as exc:  # the timer's ticks follow within a tick interval anyway
            log.warning("wake_tick_failed", error=repr(exc))

    async def _on_shutdown(self, sender: Any, **kwargs: Any) -> None:
        # faust has stopped its consumer: no more deadline checks ask for samples.
        await self.end_offsets.close()
        await self.end_offset_client.stop()

    def state_rebuilt(self) -> bool:
        """The derived indexes are complete for the current assignment (rebuilt in slices on
        the first batch after it)."""
        return self.rebuild.complete()

    def active_partitions(self) -> set[int]:
        """Tick partitions this worker actively owns (standbys excluded)."""
        topic = self.settings.topic_ticks
        return {tp.partition for tp in self.app.assignor.assigned_actives() if tp.topic == topic}

    def pending_oldest_first(self, *, after: tuple[float, str] | None,
                             issued_before: float | None) -> Iterator[tuple[float, str]]:
        """(issued_at, invoice id) of this worker's pending invoices, oldest first."""
        return self.correlator.pending_oldest_first(after=after, issued_before=issued_before)

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

    def _count_transition(self, transition: Transition) -> None:
        m = self.metrics
        for alert in transition.alerts:
            m.alerts.labels(kind=alert.kind, severity=alert.severity,
                            region_code=m.region(alert.region_code or "")).inc()
            if alert.kind == "rejected":
                m.rejections.labels(reason_code=m.reason_code(alert.reason_code or "")).inc()
        sync = transition.sync
        if sync is not None:
            m.latency.labels(region_code=m.region(sync.region_code),
                             source_system=m.source(sync.source_system)).observe(
                sync.latency_seconds)

    def _refresh_pending_gauges(self) -> None:
        m = self.metrics
        m.pending.clear()
        for band in AGE_BANDS:
            m.pending.labels(region_code="other", age_band=band).set(0)
        for (region, band), count in self.correlator.pending_counts().items():
            m.pending.labels(region_code=m.region(region), age_band=band).inc(count)
        m.oldest_pending.set(self.correlator.oldest_pending_issued_at() or 0)
        m.unsynced_by_cause.clear()
        for code, count in self.correlator.unsynced_by_cause().items():
            m.unsynced_by_cause.labels(code=code).set(count)
        m.degraded.clear()
        for scope, value in self.correlator.degraded():
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
                    processed = self.processor.next_offsets.get((topic, partition), 0)
                    lag += max(0, end - max(processed, committed or 0))
                if topic == s.topic_acknowledged:
                    marks.append(self.correlator.watermark(partition, committed=committed,
                                                           now=now))
            m.lag.labels(topic=topic).set(lag)
        if marks:
            m.watermark.set(min(marks))
