"""The stateful adapter between the pure correlation rules and the faust agent.

It owns what is derived and rebuildable (deadline heaps, ack watermarks, pending counts) and
applies each decision in a crash-safe order: alerts are sent and their delivery awaited BEFORE
the record that says "alerted" is written. A crash in between re-sends the same alert ids
(at-least-once, deduplicated downstream); the opposite order could lose an alert.

The store is any mutable mapping of invoice id -> encoded record: a faust Table in the worker, a
dict in component tests. Every method here runs inside the single agent (concurrency 1), so
table writes happen in stream iteration as faust requires. The one concurrency inside it: a
deadline pass fires its due invoices side by side (distinct invoices, so no read-modify-write of
one record interleaves), sharing the alert delivery waits.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import (
    Awaitable,
    Callable,
    Iterable,
    Iterator,
    Mapping,
    MutableMapping,
    Sequence,
)
from dataclasses import dataclass
from typing import TypeVar

from pipeline.correlation import actions, rules
from pipeline.correlation.alerts import Alert, Scope
from pipeline.correlation.causes import DEFAULT_POLICY, CausePolicy
from pipeline.correlation.deadlines import DeadlineIndex
from pipeline.correlation.evidence import Observation
from pipeline.correlation.explain import ScopeLookup, explainer, no_scope_evidence
from pipeline.correlation.facts import Ack, Action, Issued, Submission
from pipeline.correlation.frozen import quick_init
from pipeline.correlation.index_build import IndexBuild
from pipeline.correlation.index_fields import read_index_fields
from pipeline.correlation.maintenance import MaintenanceCalendar
from pipeline.correlation.maintenance_alerts import maintenance_alert
from pipeline.correlation.pending import PendingBooks
from pipeline.correlation.ratelimit import TokenBucket
from pipeline.correlation.sla import SlaRules
from pipeline.correlation.state import InvoiceState, UndecodableRecord, decode, encode
from pipeline.correlation.watermark import AckWatermarks
from pipeline.logs import get_logger
from pipeline.worker.failures import is_infrastructure, next_backoff
from pipeline.worker.ledgers import ScopeLedgers

log = get_logger(__name__)

EmitAlerts = Callable[[Sequence[Alert]], Awaitable[None]]
"""Sends alerts to the alert topic and returns once the broker has them."""
ObserveEvidence = Callable[[InvoiceState, Observation], None]
"""Takes what an event showed about an invoice's scopes (pipeline/worker/ledgers.py)."""

MAX_DUE_PER_TICK = 5000
#: Invoices fired side by side in one deadline pass (their alert deliveries awaited together).
FIRE_SLICE = 500
#: How long after a maintenance window's end its alerts are still announced by a worker that
#: (re)started or took partition 0 over in the meantime.
ANNOUNCE_LINGER = 3600.0


@quick_init
@dataclass(frozen=True, slots=True)
class Transition:
    """What one event did to one invoice: its record before and after, the alerts it raised,
    and the sync it completed (computed once, here, for every consumer of the transition).
    Outage alerts concern no invoice: ``old`` and ``new`` are None."""

    old: InvoiceState | None
    new: InvoiceState | None
    alerts: Sequence[Alert]
    sync: rules.Sync | None


OnTransition = Callable[[Transition], None]
"""Told each transition that raised alerts or completed a sync (what its consumers count); a
transition with neither (most events of a backlog) is not reported."""
Key = TypeVar("Key")


class Correlator:
    """Applies issued, acknowledged and tick events of the partitions this worker owns."""

    def __init__(
        self,
        *,
        store: MutableMapping[str, bytes],
        sla: SlaRules,
        emit: EmitAlerts,
        drain: TokenBucket,
        max_clock_skew: float = 300.0,
        retention: float = 7 * 86400.0,
        on_transition: OnTransition | None = None,
        clock: Callable[[], float] = time.time,
        maintenance: MaintenanceCalendar | None = None,
        submissions_tracked: bool = False,
        on_isolated: Callable[[str], None] | None = None,
        scope_evidence: ScopeLookup = no_scope_evidence,
        cause_policy: CausePolicy = DEFAULT_POLICY,
        observe: ObserveEvidence | None = None,
        scopes: ScopeLedgers | None = None,
    ) -> None:
        self.store = store
        self.sla = sla
        self.emit = emit
        self.drain = drain
        self.max_clock_skew = max_clock_skew
        self.retention = retention
        self.on_transition = on_transition
        self.clock = clock
        self.maintenance = maintenance
        self.submissions_tracked = submissions_tracked
        #: (window id, phase) this process announced; a restart announces once more (same ids).
        self.announced: set[tuple[str, str]] = set()
        self.on_isolated = on_isolated
        self.scope_evidence = scope_evidence
        self.cause_policy = cause_policy
        #: Group-wide evidence (both or neither): observations out, and the scope ledgers this
        #: worker owns, which decide ``degraded`` (without them no ``degraded`` is raised).
        self.observe = observe
        self.scopes = scopes
        self._backoff: dict[int, float] = {}
        self._retry_at: dict[int, float] = {}
        self.watermarks = AckWatermarks()
        self.deadlines: dict[int, DeadlineIndex] = {}
        self.pending = PendingBooks()
        #: The indexes of partitions being rebuilt, as they are collected.
        self._builds: dict[int, IndexBuild] = {}

    # -- events ---------------------------------------------------------------------------

    async def on_issued(self, issued: Issued, partition: int) -> None:
        """An invoice was issued."""
        pending = self.issued_now(issued, partition)
        if pending is not None:
            await pending

    def issued_now(self, issued: Issued, partition: int) -> Awaitable[None] | None:
        """:meth:`on_issued`, done before returning None when it raises no alert (the common
        case: no coroutine per event); else nothing is done yet and the awaitable returned
        sends the alerts, then applies the event (alerts before state)."""
        now = self.clock()
        old = self._load(issued.invoice_id)
        thresholds = self.sla.for_invoice(issued.region_code, issued.source_system)
        new, alerts = rules.on_issued(
            old, issued, now=now, sla=thresholds, partition=partition,
            max_future_skew=self.max_clock_skew, retention=self.retention)
        if alerts:
            return self._apply_then(issued.invoice_id, partition, old, new, alerts,
                                    lambda: self._observe_issued(old, new, now))
        self._write(issued.invoice_id, partition, old, new, alerts)
        self._observe_issued(old, new, now)
        return None

    async def _apply_then(self, invoice_id: str, partition: int, old: InvoiceState | None,
                          new: InvoiceState | None, alerts: Sequence[Alert],
                          then: Callable[[], None]) -> None:
        """The alerted path of :meth:`issued_now` and :meth:`ack_now`: :meth:`_apply` (alerts
        delivered, then the state), then ``then`` (what the plain path does after its write)."""
        await self._apply(invoice_id, partition, old, new, alerts)
        then()

    def _observe_issued(self, old: InvoiceState | None, new: InvoiceState | None,
                        now: float) -> None:
        if (self.observe is not None and not self.submissions_tracked and new is not None
                and new.is_issued and (old is None or not old.is_issued)):
            # Uploads untracked: each issued invoice stands for one, so ack silences still show.
            self.observe(new, Observation("submitted", now))

    async def on_ack(self, ack: Ack, partition: int) -> None:
        """The tax platform answered for an invoice. (The ack record counts as read for the
        watermark once its effect is in hand: :meth:`on_ack_read`, the processor's call.)"""
        pending = self.ack_now(ack, partition)
        if pending is not None:
            await pending

    def ack_now(self, ack: Ack, partition: int) -> Awaitable[None] | None:
        """:meth:`on_ack`, done before returning None when it raises no alert; else the
        awaitable returned sends the alerts, then applies the ack (as :meth:`issued_now`)."""
        now = self.clock()
        old = self._load(ack.invoice_id)
        new, alerts = rules.on_ack(old, ack, now=now, partition=partition,
                                   retention=self.retention)
        if alerts:
            return self._apply_then(ack.invoice_id, partition, old, new, alerts,
                                    lambda: self._answered(new, now))
        self._write(ack.invoice_id, partition, old, new, alerts)
        self._answered(new, now)
        return None

    def _answered(self, new: InvoiceState | None, now: float) -> None:
        if self.observe is not None and new is not None:
            self.observe(new, Observation("answered", now))

    async def on_action(self, action: Action, partition: int) -> None:
        """An operator closed or reopened an invoice (pipeline/correlation/actions.py)."""
        old = self._load(action.invoice_id)
        new, alerts = actions.on_action(old, action, now=self.clock(), retention=self.retention)
        if new is not old:
            await self._apply(action.invoice_id, partition, old, new, alerts)

    async def on_submitted(self, submission: Submission, partition: int) -> None:
        """An upload attempt: the record keeps the latest (what a probable cause reads)."""
        now = self.clock()
        old = self._load(submission.invoice_id)
        new, alerts = rules.on_submitted(old, submission, now=now, partition=partition,
                                         retention=self.retention)
        await self._apply(submission.invoice_id, partition, old, new, alerts)
        if self.observe is not None and new is not None:
            self.observe(new, Observation("submitted", now,
                                          failed=submission.transport_error is not None))

    def on_ack_read(self, partition: int, offset: int) -> None:
        """The ack-topic record at ``offset`` was handled (applied, dead-lettered or failed):
        it counts as read for the watermark."""
        self.watermarks.observe_offset(partition, offset)

    async def on_tick(self, partition: int, *, committed: int | None) -> None:
        """Fire what is due on ``partition``, as far as the ack watermark allows.

        ``committed``: the group's committed offset of the ack partition at assignment.
        """
        now = self.clock()
        if now < self._retry_at.get(partition, 0.0):
            return  # backing off after an infrastructure failure
        watermark = self.watermarks.value(partition, committed=committed, now=now)
        index = self.deadlines.setdefault(partition, DeadlineIndex())
        # Per-invoice alerts drain at a bounded rate so a recovery does not storm the topic;
        # what is left stays in the index for the next tick.
        due = index.pop_due(min(now, watermark), min(self.drain.available(now),
                                                      MAX_DUE_PER_TICK))
        self.drain.take(now, len(due))
        # Fired a slice at a time, the invoices of a slice side by side: each still sends its
        # alerts and awaits their delivery before its record is written, but the slice shares
        # the delivery waits. One after another, each alert cost a produce round trip (~14 ms
        # measured): at 50-100 alerts/s the single agent spent most of its time waiting, fell
        # behind its inputs, and alerts came seconds late (docs/watermark.md, issue 11).
        for start in range(0, len(due), FIRE_SLICE):
            await self._fire_slice(index, partition, due, start, now, watermark)
        self._backoff.pop(partition, None)
        if partition == 0:
            await self._announce_maintenance(now)
        if self.scopes is not None:  # emits them itself, before the ledgers are written
            outage_alerts = await self.scopes.evaluate(partition, now, self.emit)
        else:
            outage_alerts = []
        if outage_alerts and self.on_transition is not None:
            self.on_transition(Transition(None, None, outage_alerts, None))

    def _explain(self, now: float) -> rules.Explain:
        """The probable cause of an invoice about to be alerted unsynced (explain.py)."""
        return explainer(now, lookup=self.scope_evidence, policy=self.cause_policy,
                         submissions_tracked=self.submissions_tracked, calendar=self.maintenance)

    async def _announce_maintenance(self, now: float) -> None:
        """One ``maintenance`` alert when a declared window starts and one when it ends, sent
        by the owner of partition 0 only."""
        calendar = self.maintenance
        if calendar is None:
            return
        due = [(window, phase) for window, phase in calendar.announced(now, ANNOUNCE_LINGER)
               if (window.window_id, phase) not in self.announced]
        if not due:
            return
        alerts = [maintenance_alert(window, phase, calendar.grace, now) for window, phase in due]
        await self.emit(alerts)
        self.announced.update((window.window_id, phase) for window, phase in due)
        if self.on_transition is not None:
            self.on_transition(Transition(None, None, alerts, None))

    async def _fire_slice(self, index: DeadlineIndex, partition: int, due: Sequence[str],
                          start: int, now: float, watermark: float) -> None:
        """Fire ``due[start:start + FIRE_SLICE]`` concurrently (distinct invoices).

        An infrastructure failure (alert not sent) keeps every invoice not fired, this slice's
        and the later ones, due for the running worker's retry after a backoff, and raises;
        a defect of one invoice isolates that invoice only.
        """
        chunk = due[start:start + FIRE_SLICE]
        fired: set[str] = set()

        async def fire(invoice_id: str) -> None:
            await self._fire(invoice_id, partition, now, watermark)
            fired.add(invoice_id)

        try:
            results = await asyncio.gather(*(fire(i) for i in chunk), return_exceptions=True)
        except BaseException:  # cancelled: keep what was popped for the next owner's tick
            self._reschedule(index, [i for i in due[start:] if i not in fired])
            raise
        failures: list[tuple[str, BaseException]] = []
        for invoice_id, result in zip(chunk, results, strict=True):
            if result is None or isinstance(result, UndecodableRecord):
                continue  # fired, or counted and logged by _load (its deadline is dropped)
            if isinstance(result, Exception) and not is_infrastructure(result):
                self._isolate(invoice_id, partition, result)
            else:
                failures.append((invoice_id, result))
        if failures:
            # Not sent (broker down, send refused): what was popped stays due, and this
            # partition's deadlines wait a backoff before the running worker retries them.
            self._reschedule(index, [*(i for i, _ in failures), *due[start + FIRE_SLICE:]])
            delay = self._backoff[partition] = next_backoff(self._backoff.get(partition))
            self._retry_at[partition] = now + delay
            raise failures[0][1]

    async def _fire(self, invoice_id: str, partition: int, now: float,
                    watermark: float) -> None:
        """Run ``on_due`` for one invoice just popped from the deadline index."""
        old = self._load(invoice_id)
        if old is None:
            return
        new, alerts = rules.on_due(old, now=now, watermark=watermark,
                                   calendar=self.maintenance, explain=self._explain(now))
        await self._apply(invoice_id, partition, old, new, alerts, popped=True)
        for alert in alerts:
            if (alert.kind == "unsynced" and alert.severity == "warning"
                    and self.observe is not None):
                self.observe(new or old, Observation("due", now, unsynced=True))

    def _reschedule(self, index: DeadlineIndex, invoice_ids: Sequence[str]) -> None:
        for invoice_id in invoice_ids:
            raw = self.store.get(invoice_id)
            try:
                state = None if raw is None else decode(raw)
            except UndecodableRecord:
                continue  # counted when it was loaded; nothing to schedule
            if state is not None:
                index.schedule(invoice_id, rules.next_deadline(state))

    def _isolate(self, invoice_id: str, partition: int, exc: Exception) -> None:
        """A defect in one invoice's deadline handling (not the infrastructure's): its deadline
        is dropped, so it never blocks the partition's later deadlines; the record is kept
        (the operator API shows it) and a restart tries it once more."""
        log.error("deadline_isolated", invoice_id=invoice_id, partition=partition,
                  error=repr(exc)[:500], exc_info=exc)
        if self.on_isolated is not None:
            self.on_isolated("deadline_failed")

    async def sweep(self, partition: int, records: Iterable[tuple[str, bytes]]) -> int:
        """Expire synced records and held acks past retention among ``records``.

        ``records`` is the next slice of ``partition``'s table, which the adapter walks round
        robin a few hundred records per tick; expiry is not worth an in-memory index. Held
        acks become ``orphan_ack`` alerts. Returns how many records expired.
        """
        now = self.clock()
        expired = 0
        for invoice_id, raw in records:
            try:
                state = decode(raw)
            except UndecodableRecord:
                continue  # counted by the rebuild; left for a worker that can read it
            if state.partition != partition or not rules.is_expired(state, now):
                continue
            new, alerts = rules.on_due(state, now=now, watermark=now)
            await self._apply(invoice_id, partition, state, new, alerts)
            expired += 1
        return expired

    # -- what the adapter may ask -----------------------------------------------------------

    def next_due(self, partition: int) -> float | None:
        """The earliest deadline of ``partition`` if it has passed (watermark not considered)."""
        index = self.deadlines.get(partition)
        due_at = None if index is None else index.peek()
        return due_at if due_at is not None and due_at <= self.clock() else None

    def sample_ack_end_offset(self, partition: int, at: float, end_offset: int) -> None:
        """The ack partition's end offset as the broker gave it, asked at ``at``."""
        self.watermarks.sample(partition, at, end_offset)

    def watermark(self, partition: int, *, committed: int | None, now: float) -> float:
        """The ack watermark of ``partition`` (pipeline/correlation/watermark.py)."""
        return self.watermarks.value(partition, committed=committed, now=now)

    def pending_counts(self) -> Mapping[tuple[str, str], int]:
        """Pending invoices by (region code, age band)."""
        return self.pending.counts

    def unsynced_by_cause(self) -> Mapping[str, int]:
        """Alerted, still pending invoices by the probable-cause code their alert named."""
        return self.pending.causes

    def oldest_pending_issued_at(self) -> float | None:
        return self.pending.oldest_issued_at()

    def pending_oldest_first(self, *, after: tuple[float, str] | None,
                             issued_before: float | None) -> Iterator[tuple[float, str]]:
        """(issued_at, invoice id) of pending invoices, oldest first (operator API)."""
        return self.pending.oldest_first(after=after, issued_before=issued_before)

    def degraded(self) -> list[tuple[Scope, str]]:
        """(scope, value) of the outage episodes now open."""
        return [] if self.scopes is None else self.scopes.active()

    # -- state ----------------------------------------------------------------------------

    def rebuild(self, records: Iterable[tuple[Key, bytes]], partitions: set[int],
                invoice_id_of: Callable[[Key], str] = str) -> int:
        """Re-derive deadline heaps and pending counts of ``partitions`` from the table, all
        at once (the worker rebuilds in slices: :meth:`begin_rebuild`, :meth:`rebuild_slice`,
        :meth:`finish_rebuild`)."""
        self.begin_rebuild(partitions, partitions)
        count = self.rebuild_slice(records, partitions, invoice_id_of)
        for partition in partitions:
            while not self.finish_rebuild(partition):
                pass
        log.info("state_rebuilt", invoices=count, partitions=sorted(partitions))
        return count

    def begin_rebuild(self, active: set[int], fresh: set[int]) -> None:
        """After a rebalance: forget partitions not in ``active``, empty the indexes of
        ``fresh`` ones (to be filled by :meth:`rebuild_slice` and :meth:`finish_rebuild`),
        keep the others as they are."""
        for stale in (set(self.deadlines) | set(self.pending.books)) - active:
            self.deadlines.pop(stale, None)
            self.pending.drop(stale)
        for partition in fresh:
            self.deadlines[partition] = DeadlineIndex()
            self.pending.reset(partition)
        # What an interrupted rebuild collected is dropped with it.
        self._builds = {partition: IndexBuild() for partition in fresh}
        # Only samples and progress recorded since the assignment count (docs/watermark.md).
        for stale in (set(self.watermarks.partitions()) - active) | fresh:
            self.watermarks.forget(stale)
        for stale in (set(self._retry_at) - active) | fresh:
            self._retry_at.pop(stale, None)
            self._backoff.pop(stale, None)

    def rebuild_slice(self, records: Iterable[tuple[Key, bytes]], partitions: set[int],
                      invoice_id_of: Callable[[Key], str] = str) -> int:
        """Collect table records of ``partitions`` (being rebuilt) for their indexes; returns
        how many records of those partitions were collected. The indexes are in place once
        :meth:`finish_rebuild` says so.

        ``records``: (key, record); ``invoice_id_of`` names the invoice of a key (the worker
        passes stored keys, decoded only for the log line of a record that cannot be read).
        Only the fields the indexes derive from are read (index_fields.py); a record
        :func:`decode` cannot read is counted and logged here, as it always was.
        """
        count = 0
        builds, read = self._builds, read_index_fields
        for key, raw in records:
            try:
                record = read(raw)
            except UndecodableRecord as exc:
                self._undecodable(invoice_id_of(key), exc)
                continue
            if record.partition not in partitions:
                continue
            count += 1
            # The record's own invoice_id (equal to the key): the deadline index and the
            # pending book then share one string per invoice instead of holding two.
            builds[record.partition].add(record)
        return count

    def finish_rebuild(self, partition: int) -> bool:
        """One bounded step of ordering what :meth:`rebuild_slice` collected for
        ``partition`` (index_build.py); True once its indexes are in place."""
        built = self._builds[partition].step()
        if built is None:
            return False
        self.deadlines[partition], book = built
        self.pending.reset(partition, book)
        del self._builds[partition]
        return True

    def _load(self, invoice_id: str) -> InvoiceState | None:
        raw = self.store.get(invoice_id)
        if raw is None:
            return None
        try:
            return decode(raw)
        except UndecodableRecord as exc:
            self._undecodable(invoice_id, exc)
            raise

    def _undecodable(self, invoice_id: str, exc: UndecodableRecord) -> None:
        """Count and log a stored record this version cannot read; it stays as it is."""
        log.error("record_undecodable", invoice_id=invoice_id, error=str(exc)[:200])
        if self.on_isolated is not None:
            self.on_isolated("undecodable")

    async def _apply(self, invoice_id: str, partition: int, old: InvoiceState | None,
                     new: InvoiceState | None, alerts: Sequence[Alert], *,
                     popped: bool = False) -> None:
        """Emit, then write; keep the indexes in step. ``popped``: the invoice was just taken
        from the deadline index (so it is not in it, whatever ``old`` says)."""
        if alerts:
            await self.emit(alerts)
        self._write(invoice_id, partition, old, new, alerts, popped=popped)

    def _write(self, invoice_id: str, partition: int, old: InvoiceState | None,
               new: InvoiceState | None, alerts: Sequence[Alert], *,
               popped: bool = False) -> None:
        """What :meth:`_apply` does once the alerts are delivered (or when there are none)."""
        sync = rules.synced_transition(old, new)
        if sync is not None and self.observe is not None:
            synced = new or old
            if synced is not None:
                self.observe(synced, Observation("due" if sync.in_time else "late", self.clock()))
        # ``is`` first: most rules return the same object; a new invoice (``old`` None) needs
        # no field-by-field comparison either.
        if new is not old and (old is None or new != old):
            if new is None:
                self.store.pop(invoice_id, None)
            else:
                self.store[invoice_id] = encode(new)
            self.pending.update(partition, old, new)
        index = self.deadlines.get(partition)
        if index is None:  # not setdefault: that would build an index (a SortedList) per event
            index = self.deadlines[partition] = DeadlineIndex()
        index.schedule(invoice_id, None if new is None else rules.next_deadline(new),
                       was=None if old is None or popped else rules.next_deadline(old))
        if self.on_transition is not None and (alerts or sync is not None):
            self.on_transition(Transition(old, new, alerts, sync))
