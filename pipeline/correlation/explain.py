"""The probable cause an ``unsynced`` alert names: the cause rules given all they may look at.

``rules.on_due`` asks an :data:`~.rules.Explain` for the cause of an invoice about to be alerted;
:func:`explainer` builds one for a moment ``now`` from the invoice's record, the declared window
it waited through, and the group's scope evidence (``lookup``: the adapter's view of the scope
ledgers, pipeline/worker/ledger_view.py).
"""

from __future__ import annotations

from collections.abc import Callable

from .causes import (
    DEFAULT_POLICY,
    NO_EVIDENCE,
    Cause,
    CausePolicy,
    EvidenceScope,
    ScopeEvidence,
    invoice_cause,
)
from .evidence import invoice_evidence
from .maintenance import MaintenanceCalendar, MaintenanceWindow
from .rules import Explain
from .state import InvoiceState

ScopeLookup = Callable[[EvidenceScope, str, float], ScopeEvidence]
"""The group's evidence about one scope value as of a time (NO_EVIDENCE when unknown)."""


def no_scope_evidence(scope: EvidenceScope, value: str, now: float) -> ScopeEvidence:
    """No group-wide evidence: only the causes an invoice's own record decides are named."""
    return NO_EVIDENCE


def explainer(now: float, *, lookup: ScopeLookup = no_scope_evidence,
              submissions_tracked: bool = False, calendar: MaintenanceCalendar | None = None,
              policy: CausePolicy = DEFAULT_POLICY) -> Explain:
    """The probable cause of an invoice alerted unsynced at ``now`` (causes.py)."""

    def at_now(scope: EvidenceScope, value: str) -> ScopeEvidence:
        return lookup(scope, value, now)

    def explain(state: InvoiceState, window: MaintenanceWindow | None) -> Cause:
        if window is None and calendar is not None:
            window = calendar.overlapping(state.region_code, state.source_system,
                                          state.issued_at or now, now)
        evidence = invoice_evidence(state, at_now, submissions_tracked=submissions_tracked,
                                    maintenance=window)
        return invoice_cause(state, evidence, now=now, policy=policy)

    return explain
