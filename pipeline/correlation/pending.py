"""Counts of unacknowledged invoices by region and age band, kept in step with the table.

The gauges must be right after a restart, so they are derived: the adapter feeds every state
transition (old record, new record) and rebuilds the book from the recovered table on assignment.
The age band follows the alerts actually emitted (which are gated by the ack watermark), so a
worker that is behind does not report invoices "past warning" that it has not alerted on yet.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

from .state import Flag, InvoiceState

AgeBand = str  # "within_sla" | "past_warning" | "past_critical"


def pending_band(state: InvoiceState | None) -> tuple[str, AgeBand] | None:
    """(region_code, age band) of an issued, not yet synced invoice; None otherwise."""
    if state is None or not state.is_issued or state.is_synced:
        return None
    if state.flags & Flag.ESCALATED:
        band = "past_critical"
    elif state.flags & Flag.WARNED:
        band = "past_warning"
    else:
        band = "within_sla"
    return (state.region_code or "", band)


@dataclass(slots=True)
class PendingBook:
    """Pending counts per (region, band) and the oldest pending issued_at."""

    counts: Counter[tuple[str, AgeBand]] = field(default_factory=Counter)
    _issued_at: dict[str, float] = field(default_factory=dict)
    _oldest: list[tuple[float, str]] = field(default_factory=list)

    def update(self, old: InvoiceState | None, new: InvoiceState | None) -> None:
        """Apply one transition of one invoice's record."""
        before, after = pending_band(old), pending_band(new)
        if before == after:
            return
        if before is not None:
            self.counts[before] -= 1
            if self.counts[before] <= 0:
                del self.counts[before]
        record = new if new is not None else old
        invoice_id = record.invoice_id if record is not None else ""
        if after is not None and new is not None and new.issued_at is not None:
            self.counts[after] += 1
            if invoice_id not in self._issued_at:
                self._issued_at[invoice_id] = new.issued_at
                heapq.heappush(self._oldest, (new.issued_at, invoice_id))
        elif after is None:
            self._issued_at.pop(invoice_id, None)

    def oldest_issued_at(self) -> float | None:
        """issued_at of the oldest pending invoice (stale heap entries are dropped lazily)."""
        while self._oldest:
            issued_at, invoice_id = self._oldest[0]
            if self._issued_at.get(invoice_id) == issued_at:
                return issued_at
            heapq.heappop(self._oldest)
        return None

    def oldest_first(self, *, after: tuple[float, str] | None = None,
                     issued_before: float | None = None) -> Iterator[tuple[float, str]]:
        """Pending (issued_at, invoice_id) in ascending order, strictly after ``after``.

        Only invoices issued at or before ``issued_before`` when it is given. Lazy: the
        candidates are heapified once (O(n)) and popped as the caller consumes them, so a
        page of k costs O(n + k log n) and the caller may stop early.
        """
        candidates = [
            (issued_at, invoice_id) for invoice_id, issued_at in self._issued_at.items()
            if (after is None or (issued_at, invoice_id) > after)
            and (issued_before is None or issued_at <= issued_before)
        ]
        heapq.heapify(candidates)
        while candidates:
            yield heapq.heappop(candidates)

    def __len__(self) -> int:
        return len(self._issued_at)
