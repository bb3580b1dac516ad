"""The correlation rules: what an issued invoice, an acknowledgement or a due check does.

Each rule takes the invoice's current record (None if there is none) and returns
``(new record or None to delete, alerts to emit)``. Rules are pure: the current time is
passed in, nothing is read or written. When nothing changes the same record object is
returned, so the adapter can skip the table write (``new is old``).

Deadlines fire only when both ``now`` and the acknowledgement watermark have passed them:
the adapter guarantees every ack with ``acknowledged_at <= watermark`` was already
processed, so an invoice whose ack exists but is unread never alerts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import invoice_alerts
from .alerts import Alert
from .causes import Cause
from .facts import SYNCED_STATUSES, Ack, Issued, Submission
from .frozen import quick_init
from .index_fields import IndexedRecord
from .maintenance import MaintenanceCalendar, MaintenanceWindow
from .sla import Thresholds
from .state import (
    CLIENT_MAX_CHARS,
    ERROR_MAX_CHARS,
    REASON_MAX_CHARS,
    Flag,
    InvoiceState,
    event_hash,
    remember,
    with_cause,
)

#: How far in the future an issued_at may lie before it is clamped to ``now + skew``:
#: a seller clock running ahead must not postpone (or suppress) the deadlines.
MAX_FUTURE_SKEW = 300.0
#: How long synced records and held (orphan) acks are kept.
DEFAULT_RETENTION = 7 * 86400.0

Decision = tuple[InvoiceState | None, list[Alert]]


def on_issued(
    state: InvoiceState | None,
    issued: Issued,
    *,
    now: float,
    sla: Thresholds,
    partition: int,
    max_future_skew: float = MAX_FUTURE_SKEW,
    retention: float = DEFAULT_RETENTION,
) -> Decision:
    """An invoice was issued: start its deadlines, or match an ack that arrived first.

    Deadlines count from ``min(issued_at, now + max_future_skew)``. A second issue of the
    same invoice (same or another event id) has no effect: the first facts win.
    """
    if state is not None and state.is_issued:
        return state, []
    effective_issued = min(issued.issued_at, now + max_future_skew)
    if state is None:
        # A new invoice (nearly every issued event): the record the general path below builds
        # for it, positionally in InvoiceState's field order, without the dict of changes.
        return InvoiceState(
            issued.invoice_id, partition, Flag.RED if issued.red else 0, issued.issued_at,
            issued.region_code, issued.source_system, issued.seller_tax_id,
            effective_issued + sla.warn_after, effective_issued + sla.critical_after,
            None, None, None, None, None, None, None, (event_hash(issued.event_id),),
            issued.seller_name,
            None if issued.invoice_number == issued.invoice_id else issued.invoice_number,
            issued.total_amount_cents), []
    flags = state.flags
    if issued.red:
        flags |= Flag.RED
    changes: dict[str, Any] = dict(
        partition=partition,
        flags=flags,
        issued_at=issued.issued_at,
        region_code=issued.region_code,
        source_system=issued.source_system,
        seller_tax_id=issued.seller_tax_id,
        seller_name=issued.seller_name,
        # Kept only when it differs from the id (legacy invoices: code + number).
        invoice_number=None if issued.invoice_number == issued.invoice_id
        else issued.invoice_number,
        total_amount_cents=issued.total_amount_cents,
        warn_at=effective_issued + sla.warn_after,
        critical_at=effective_issued + sla.critical_after,
        held_since=None,
        expires_at=None,
        seen=remember(state.seen, event_hash(issued.event_id)),
    )
    record = state.evolve(**changes)
    if record.ack_status in SYNCED_STATUSES:
        return record.evolve(resolved_at=now, expires_at=now + retention), []
    if record.ack_status == "rejected":
        record = record.evolve(flags=record.flags | Flag.REJECTION_ALERTED)
        return record, [invoice_alerts.rejected(record, now)]
    return record, []


def on_ack(
    state: InvoiceState | None,
    ack: Ack,
    *,
    now: float,
    partition: int,
    retention: float = DEFAULT_RETENTION,
) -> Decision:
    """The tax platform answered: sync, reject, or hold the ack until its invoice arrives.

    Acceptance (or duplicate) wins over rejection whatever the order; once synced, later
    acks are only recorded. A repeated event id has no effect.
    """
    digest = event_hash(ack.event_id)
    if state is not None and digest in state.seen:
        return state, []
    if state is None:
        state = InvoiceState(
            invoice_id=ack.invoice_id,
            partition=partition,
            held_since=now,
            expires_at=now + retention,
        )
    seen = remember(state.seen, digest)
    if state.ack_status in SYNCED_STATUSES:
        flags = state.flags | Flag.REJECTED_AFTER_SYNC if ack.status == "rejected" else state.flags
        return state.evolve(partition=partition, flags=flags, seen=seen), []
    record = state.evolve(
        partition=partition,
        seen=seen,
        ack_status=ack.status,
        acknowledged_at=ack.acknowledged_at,
        reason_code=ack.reason_code,
        reason=None if ack.reason is None else ack.reason[:REASON_MAX_CHARS],
    )
    if not record.is_issued:
        return record, []
    if ack.status == "rejected":
        if record.flags & Flag.REJECTION_ALERTED or record.is_closed:
            return record, []
        record = record.evolve(flags=record.flags | Flag.REJECTION_ALERTED)
        return record, [invoice_alerts.rejected(record, now)]
    record = record.evolve(resolved_at=now, expires_at=now + retention)
    resolution = invoice_alerts.resolved(record, _latency(record), now)
    if resolution is None:
        return record, []
    return record.evolve(flags=record.flags | Flag.RESOLVED), [resolution]


def on_submitted(
    state: InvoiceState | None,
    submission: Submission,
    *,
    now: float,
    partition: int,
    retention: float = DEFAULT_RETENTION,
) -> Decision:
    """An upload attempt: remember the latest one (what the probable cause looks at).

    The latest is the highest ``attempt`` (then the later ``submitted_at``): a replayed or
    reordered older attempt changes nothing, so no event id needs remembering. Attempts after
    the invoice is synced are ignored. A submission before its invoice is held like an early
    ack (and dropped silently at retention). Never alerts.
    """
    if state is not None and state.is_synced:
        return state, []
    if state is not None and (state.attempts, state.submitted_at or 0.0) >= (
            submission.attempt, submission.submitted_at):
        return state, []
    if state is None:
        state = InvoiceState(invoice_id=submission.invoice_id, partition=partition,
                             held_since=now, expires_at=now + retention)
    error = submission.transport_error
    return state.evolve(
        partition=partition,
        submitted_at=submission.submitted_at,
        attempts=submission.attempt,
        channel=submission.channel,
        client=submission.client[:CLIENT_MAX_CHARS],
        transport_error=None if error is None else error[:ERROR_MAX_CHARS],
    ), []


Explain = Callable[[InvoiceState, "MaintenanceWindow | None"], "Cause | None"]
"""The probable cause of an invoice about to be alerted unsynced, given the declared window its
deadline was deferred past (the adapter closes over the scope evidence)."""


def on_due(state: InvoiceState, *, now: float, watermark: float,
           calendar: MaintenanceCalendar | None = None,
           explain: Explain | None = None) -> Decision:
    """Fire what is due: deadlines passed by both ``now`` and ``watermark``, and expiry.

    If the warning and critical deadlines are both due (the worker was down), both
    alerts are emitted, warning first: each condition is reported exactly once whatever
    the timing. A rejected, not accepted invoice is not synced, so deadlines still apply.
    A due deadline inside a declared maintenance window covering the invoice (``calendar``) is
    deferred to the window's end plus the grace instead (flag DEFERRED; the critical deadline is
    kept no earlier than the warning one); ``explain`` names the probable cause on unsynced
    alerts. Held acks past retention become an ``orphan_ack`` alert and are deleted; synced
    records past retention are deleted.
    """
    if state.expires_at is not None and state.expires_at <= now:
        if not state.is_issued and state.ack_status is not None:
            return None, [invoice_alerts.orphan(state, now)]
        return None, []  # synced, or only a submission was held: nothing to say
    if not state.is_issued or state.is_synced or state.is_closed:
        return state, []
    horizon = min(now, watermark)
    record = state if calendar is None else _defer(state, calendar, horizon)
    alerts: list[Alert] = []
    warn_at, critical_at = record.warn_at, record.critical_at
    window = None
    if calendar is not None and record.flags & Flag.DEFERRED:
        window = calendar.deferred_by(record.region_code, record.source_system,
                                      warn_at if warn_at is not None else now)
    if warn_at is not None and warn_at <= horizon and not record.flags & Flag.WARNED:
        record = record.evolve(flags=record.flags | Flag.WARNED)
        cause = None if explain is None else explain(record, window)
        record = _named(record, cause)
        alerts.append(invoice_alerts.unsynced(record, "warning", warn_at, now, cause))
    if critical_at is not None and critical_at <= horizon and not record.flags & Flag.ESCALATED:
        record = record.evolve(flags=record.flags | Flag.ESCALATED)
        cause = None if explain is None else explain(record, window)
        record = _named(record, cause)
        alerts.append(invoice_alerts.unsynced(record, "critical", critical_at, now, cause))
    return record, alerts


def _named(record: InvoiceState, cause: Cause | None) -> InvoiceState:
    """The record remembering the cause its latest unsynced alert named."""
    if cause is None:
        return record
    return record.evolve(flags=with_cause(record.flags, cause.code))


def _defer(state: InvoiceState, calendar: MaintenanceCalendar, horizon: float) -> InvoiceState:
    """Move due, not yet alerted deadlines that fall in a declared window past it."""
    record = state

    def deferred(deadline: float | None, flag: int) -> float | None:
        if deadline is None or deadline > horizon or record.flags & flag:
            return None
        moved, window = calendar.defer(record.region_code, record.source_system, deadline)
        return None if window is None else moved

    warn_at = deferred(record.warn_at, Flag.WARNED)
    if warn_at is not None:
        record = record.evolve(warn_at=warn_at, flags=record.flags | Flag.DEFERRED)
    critical_at = deferred(record.critical_at, Flag.ESCALATED)
    if critical_at is not None:
        record = record.evolve(critical_at=critical_at, flags=record.flags | Flag.DEFERRED)
    if (record.warn_at is not None and record.critical_at is not None
            and record.critical_at < record.warn_at and not record.flags & Flag.ESCALATED):
        record = record.evolve(critical_at=record.warn_at)
    return record


def next_due(state: InvoiceState) -> float | None:
    """When :func:`on_due` next has something to do for this record (None: never).

    For pending and rejected invoices, the earliest deadline not yet alerted (the adapter
    must also wait for the watermark); otherwise the expiry time.
    """
    # The properties spelled out (not issued, synced, closed): a restart asks this of every
    # record, every event of two.
    flags = state.flags
    if state.issued_at is None or state.ack_status in SYNCED_STATUSES or flags & Flag.CLOSED:
        return state.expires_at
    return _earliest_unalerted(state, flags)


def next_deadline(state: IndexedRecord) -> float | None:
    """The next unsynced deadline of a pending or rejected invoice; None for anything else.

    :func:`next_due` without the expiry of synced records and held acks: the worker keeps
    deadlines in memory but finds expired records by sweeping its table, so its memory grows
    with the invoices waiting for an answer, not with everything kept for the retention period.
    """
    flags = state.flags
    if state.issued_at is None or state.ack_status in SYNCED_STATUSES or flags & Flag.CLOSED:
        return None
    return _earliest_unalerted(state, flags)


def _earliest_unalerted(state: IndexedRecord, flags: int) -> float | None:
    # min() of the deadlines not alerted yet, as min([warn, critical]) picks: the first unless
    # the second is smaller.
    warn = None if flags & Flag.WARNED else state.warn_at
    critical = None if flags & Flag.ESCALATED else state.critical_at
    if warn is None:
        return critical
    if critical is None:
        return warn
    return critical if critical < warn else warn


def is_expired(state: InvoiceState, now: float) -> bool:
    """A synced record or held ack past its retention (:func:`on_due` deletes it)."""
    return state.expires_at is not None and state.expires_at <= now


@quick_init
@dataclass(frozen=True, slots=True)
class Sync:
    """An invoice just became synced (for the latency histogram and outage detector)."""

    invoice_id: str
    region_code: str
    source_system: str
    acknowledged_at: float
    latency_seconds: float
    in_time: bool  # acknowledged at or before the warning deadline


def synced_transition(before: InvoiceState | None, after: InvoiceState | None) -> Sync | None:
    """The sync that happened between two records of one invoice, if any."""
    if after is None or not after.is_synced or (before is not None and before.is_synced):
        return None
    acknowledged_at = after.acknowledged_at or 0.0
    return Sync(
        invoice_id=after.invoice_id,
        region_code=after.region_code or "",
        source_system=after.source_system or "",
        acknowledged_at=acknowledged_at,
        latency_seconds=_latency(after),
        in_time=after.warn_at is not None and acknowledged_at <= after.warn_at,
    )


def _latency(state: InvoiceState) -> float:
    if state.acknowledged_at is None or state.issued_at is None:
        return 0.0
    return max(0.0, state.acknowledged_at - state.issued_at)
