"""Counts of unacknowledged invoices by region and age band, kept in step with the table.

The gauges must be right after a restart, so they are derived: the adapter feeds every state
transition (old record, new record) and rebuilds the book from the recovered table on assignment.
The age band follows the alerts actually emitted (which are gated by the ack watermark), so a
worker that is behind does not report invoices "past warning" that it has not alerted on yet.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from sortedcontainers import SortedList

from .facts import SYNCED_STATUSES
from .index_fields import IndexedRecord
from .state import Flag, InvoiceState, named_cause

AgeBand = str  # "within_sla" | "past_warning" | "past_critical"


def pending_band(state: IndexedRecord | None) -> tuple[str, AgeBand] | None:
    """(region_code, age band) of an issued, not yet synced nor closed invoice; None otherwise."""
    # The properties spelled out (a restart asks this of every record).
    if (state is None or state.issued_at is None or state.ack_status in SYNCED_STATUSES
            or state.flags & Flag.CLOSED):
        return None
    flags = state.flags
    if flags & Flag.ESCALATED:
        band = "past_critical"
    elif flags & Flag.WARNED:
        band = "past_warning"
    else:
        band = "within_sla"
    return (state.region_code or "", band)


def unsynced_cause(state: IndexedRecord | None) -> str | None:
    """For an issued, unsynced invoice already alerted unsynced: the cause its alert named
    (``none`` when it named none); None otherwise."""
    if (state is None or not state.flags & _ALERTED or state.issued_at is None
            or state.ack_status in SYNCED_STATUSES):
        return None
    return named_cause(state.flags) or "none"


_ALERTED = Flag.WARNED | Flag.ESCALATED


@dataclass(slots=True)
class PendingBook:
    """Pending counts per (region, band), and the pending invoices in issued_at order.

    The order is a sorted list of (issued_at, invoice_id), so the oldest pending invoice is
    O(1), entering or leaving is O(log n), and a page of k after a cursor is O(log n + k):
    the operator API pages through a million pending invoices without stalling the agent.
    """

    counts: Counter[tuple[str, AgeBand]] = field(default_factory=Counter)
    #: Alerted, still unsynced invoices by the probable cause their alert named.
    causes: Counter[str] = field(default_factory=Counter)
    _order: SortedList = field(default_factory=SortedList)

    def update(self, old: InvoiceState | None, new: InvoiceState | None) -> None:
        """Apply one transition of one invoice's record.

        A pending invoice's issued_at never changes (the first issue wins), so the transition
        itself says what to add or remove: no per-invoice map is kept beside the sorted list.
        """
        was = None if old is None else unsynced_cause(old)
        now = None if new is None else unsynced_cause(new)
        if was != now:
            if was is not None:
                self.causes[was] -= 1
                if self.causes[was] <= 0:
                    del self.causes[was]
            if now is not None:
                self.causes[now] += 1
        before = None if old is None else pending_band(old)
        after = None if new is None else pending_band(new)
        if before == after:
            return
        if before is not None:
            self.counts[before] -= 1
            if self.counts[before] <= 0:
                del self.counts[before]
        if after is not None:
            self.counts[after] += 1
        if before is None and new is not None and new.issued_at is not None:
            self._order.add((new.issued_at, new.invoice_id))
        elif after is None and old is not None and old.issued_at is not None:
            self._order.discard((old.issued_at, old.invoice_id))

    @classmethod
    def of(cls, order: Iterable[tuple[float, str]], counts: Mapping[tuple[str, AgeBand], int],
           causes: Mapping[str, int]) -> PendingBook:
        """The book holding ``order`` ((issued_at, invoice_id) of each pending invoice; built
        in one pass, O(n) when sorted) and the counts of those invoices, as :meth:`update`
        would have left them (no zero counts)."""
        return cls(Counter(counts), Counter(causes), SortedList(order))

    def oldest_issued_at(self) -> float | None:
        """issued_at of the oldest pending invoice."""
        if not self._order:
            return None
        issued_at: float = self._order[0][0]
        return issued_at

    def oldest_first(self, *, after: tuple[float, str] | None = None,
                     issued_before: float | None = None) -> Iterator[tuple[float, str]]:
        """Pending (issued_at, invoice_id) in ascending order, strictly after ``after``.

        Only invoices issued at or before ``issued_before`` when it is given. Lazy, and meant
        to be consumed without awaiting in between (the book changes as events are applied).
        """
        entries: Iterator[tuple[float, str]] = (
            self._order.irange(minimum=after, inclusive=(False, True)) if after is not None
            else iter(self._order))
        for entry in entries:
            if issued_before is not None and entry[0] > issued_before:
                return
            yield entry

    def __len__(self) -> int:
        return len(self._order)


@dataclass(slots=True)
class PendingBooks:
    """A :class:`PendingBook` per partition, read as one.

    Per partition so that a rebalance drops exactly the revoked partitions' invoices and rebuilds
    only the newly assigned ones; the partitions a worker keeps keep their books.
    """

    books: dict[int, PendingBook] = field(default_factory=dict)

    def update(self, partition: int, old: InvoiceState | None, new: InvoiceState | None) -> None:
        """Apply one transition of an invoice of ``partition``."""
        book = self.books.get(partition)
        if book is None:
            book = self.books[partition] = PendingBook()
        book.update(old, new)

    def reset(self, partition: int, book: PendingBook | None = None) -> None:
        """Empty ``partition``'s book (before it is rebuilt from the table), or make it
        ``book`` (rebuilt)."""
        self.books[partition] = PendingBook() if book is None else book

    def drop(self, partition: int) -> None:
        """Forget a partition this worker no longer owns."""
        self.books.pop(partition, None)

    @property
    def counts(self) -> Counter[tuple[str, AgeBand]]:
        """Pending counts per (region, band) over every partition."""
        total: Counter[tuple[str, AgeBand]] = Counter()
        for book in self.books.values():
            total.update(book.counts)
        return total

    @property
    def causes(self) -> Counter[str]:
        """Alerted, still pending invoices per probable-cause code over every partition."""
        total: Counter[str] = Counter()
        for book in self.books.values():
            total.update(book.causes)
        return total

    def oldest_issued_at(self) -> float | None:
        """issued_at of the oldest pending invoice of any partition."""
        return min((at for book in self.books.values()
                    if (at := book.oldest_issued_at()) is not None), default=None)

    def oldest_first(self, *, after: tuple[float, str] | None = None,
                     issued_before: float | None = None) -> Iterator[tuple[float, str]]:
        """:meth:`PendingBook.oldest_first` merged over the partitions."""
        return heapq.merge(*(book.oldest_first(after=after, issued_before=issued_before)
                             for book in self.books.values()))

    def __len__(self) -> int:
        return sum(len(book) for book in self.books.values())
