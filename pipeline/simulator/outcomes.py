"""What happens to one invoice (its fate) and which alerts the worker must then emit.

This mirrors ``pipeline.correlation.rules`` from the outside: the simulator decides the fate,
and :func:`expected_alerts` says what a correct worker reports about it. Fates keep every
acceptance out of the guard band around a threshold (see :mod:`.latency`), so the answer does
not depend on timing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pipeline.contracts import AckStatus, AlertKind, AlertSeverity, CauseCode
from pipeline.correlation.sla import Thresholds

from .latency import in_guard_band

DEFER_MARGIN = 0.1
"""An acceptance must lie this far (x warn_after) from a deadline deferred by maintenance."""


@dataclass(frozen=True, slots=True)
class Answer:
    """One acknowledgement, ``after`` seconds after ``issued_at``; ``copies`` > 1 re-delivers
    the same event (same ``event_id``)."""

    after: float
    status: AckStatus
    reason: tuple[str, str] | None = None
    copies: int = 1


@dataclass(frozen=True, slots=True)
class Attempt:
    """One upload attempt (invoice.submitted), ``after`` seconds after ``issued_at``;
    ``error`` set: it failed in transport."""

    after: float
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Fate:
    """An invoice's story: its acknowledgements, when its issued event is produced (seconds
    after ``issued_at``: > 0 when the billing system's outbox is late), and how often.

    ``attempts`` None: one successful upload before the first answer (none without answers);
    ``client`` None: a current uploader. ``cause`` is the probable cause its unsynced alerts
    must name when the worker sees the submissions."""

    label: str
    answers: tuple[Answer, ...] = ()
    issued_delay: float = 0.0
    issued_copies: int = 1
    attempts: tuple[Attempt, ...] | None = None
    client: str | None = None
    cause: CauseCode | None = None


@dataclass(frozen=True, slots=True)
class ExpectedAlert:
    """An alert the worker must emit, due (at the earliest) at ``due_at`` (epoch seconds)."""

    kind: AlertKind
    severity: AlertSeverity
    due_at: float


class AmbiguousFate(ValueError):
    """A fate whose acceptance is too close to a threshold to predict the alerts."""


Defer = Callable[[float], float]
"""A deadline moved past the declared maintenance windows covering the invoice."""


def expected_alerts(fate: Fate, issued_at: float, thresholds: Thresholds,
                    defer: Defer | None = None) -> list[ExpectedAlert]:
    """The per-invoice alerts a correct worker emits for ``fate``, in the order it emits them.

    - ``rejected``/warning when a rejection comes before any acceptance;
    - ``unsynced``/warning (and /critical) when no acceptance comes by the threshold (moved by
      ``defer`` past declared maintenance, the critical one no earlier than the warning);
    - ``resolved``/info when an acceptance follows any of those.

    Raises :class:`AmbiguousFate` if an acceptance lies in a threshold's guard band, or within
    DEFER_MARGIN x warn_after of a deferred deadline.
    """
    answers = sorted(fate.answers, key=lambda answer: answer.after)
    accepted = next((a.after for a in answers if a.status != "rejected"), None)
    warn_at = issued_at + thresholds.warn_after
    critical_at = issued_at + thresholds.critical_after
    if defer is not None:
        warn_at, critical_at = defer(warn_at), defer(critical_at)
        critical_at = max(critical_at, warn_at)
    deferred = (warn_at, critical_at) != (issued_at + thresholds.warn_after,
                                          issued_at + thresholds.critical_after)
    if accepted is not None and not deferred and in_guard_band(accepted, thresholds):
        raise AmbiguousFate(f"acceptance after {accepted:.3f}s is within a threshold's guard band")
    if accepted is not None and deferred and any(
            abs(issued_at + accepted - at) < DEFER_MARGIN * thresholds.warn_after
            for at in (warn_at, critical_at)):
        raise AmbiguousFate("acceptance too close to a deadline deferred by maintenance")
    seen_at = issued_at + fate.issued_delay  # the worker learns of the invoice no earlier
    alerts: list[ExpectedAlert] = []
    rejection = next((a.after for a in answers
                      if a.status == "rejected" and (accepted is None or a.after < accepted)),
                     None)
    if rejection is not None and fate.issued_delay > 0:
        # Whether the rejection is alerted then depends on how the worker interleaves topics.
        raise AmbiguousFate("a rejection of an invoice whose issued event comes late")
    if rejection is not None:
        alerts.append(ExpectedAlert("rejected", "warning", max(seen_at, issued_at + rejection)))
    levels: tuple[tuple[AlertSeverity, float], ...] = (("warning", warn_at),
                                                       ("critical", critical_at))
    for severity, at in levels:
        if accepted is None or issued_at + accepted > at:
            alerts.append(ExpectedAlert("unsynced", severity, at))
    if accepted is not None and alerts:
        alerts.append(ExpectedAlert("resolved", "info", max(seen_at, issued_at + accepted)))
    return sorted(alerts, key=lambda alert: alert.due_at)
