"""One partition's deadline index and pending book, built in bulk from its stored records.

Added record by record (:meth:`DeadlineIndex.schedule`, :meth:`PendingBook.update`), each
pending invoice costs two ``SortedList`` inserts, 0.5-2 us each (2 when the table's key order
is unrelated to the deadlines), a fifth of a restart. Collected and sorted once, the same
entries cost a tenth of that. But one sort of a partition's entries would hold the event loop
for its whole length (~80 ms for 166,000 entries in random order), and the rebuild must yield
every few milliseconds (pipeline/worker/rebuild.py). So the entries are sorted in runs of
``RUN`` as they come, and the runs are merged pairwise a bounded piece at a time
(:meth:`IndexBuild.step`), the caller yielding between pieces; every piece is one C-level sort
of at most ``2 * PIECE`` entries already in two sorted runs.

The result is the index and book that adding the same records one by one would have built:
the same entries in the same order and the same counts (tests/unit/test_index_build.py). Its
order never rests on the merging: the ``SortedList`` built from the merged entries sorts them
again, which takes one O(n) pass (~40 ns an entry) when they come sorted, as they do.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import deque
from typing import Generic, TypeVar

from .deadlines import DeadlineIndex, deadline_key
from .index_fields import IndexedRecord
from .pending import AgeBand, PendingBook, pending_band, unsynced_cause
from .rules import next_deadline

#: Entries sorted together as they come (~1-2 ms for a run in random order).
RUN = 4096
#: Entries taken from each of two runs per merge piece (~0.5-1 ms a piece).
PIECE = 8192

#: An entry: a deadline index key (bytes) or a pending book's (issued_at, invoice_id).
Entry = TypeVar("Entry", bytes, tuple[float, str])


class SortedRuns(Generic[Entry]):
    """Runs of entries, merged into one sorted list a bounded piece at a time."""

    __slots__ = ("_merge", "_runs")

    def __init__(self) -> None:
        self._runs: deque[list[Entry]] = deque()
        #: The merge in progress: its two runs, what is merged so far, where each run is at.
        self._merge: tuple[list[Entry], list[Entry], list[Entry], list[int]] | None = None

    def push(self, entries: list[Entry]) -> None:
        """Entries in any order (sorted here: keep them to about RUN)."""
        if entries:
            entries.sort()
            self._runs.append(entries)

    def step(self) -> list[Entry] | None:
        """Merge one piece; every entry pushed, in order, once all are merged, else None.
        No more :meth:`push` after the first step."""
        merge = self._merge
        if merge is None:
            runs = self._runs
            if len(runs) < 2:
                return runs[0] if runs else []
            a, b = runs.popleft(), runs.popleft()
            # Runs that do not overlap (a table whose key order follows the deadlines) are
            # simply joined.
            if a[-1] <= b[0] or b[-1] <= a[0]:
                runs.append(a + b if a[-1] <= b[0] else b + a)
                return None
            merge = self._merge = (a, b, [], [0, 0])
        a, b, merged, at = merge
        at[0], at[1] = _merge_piece(a, b, at[0], at[1], merged)
        if at[0] == len(a) and at[1] == len(b):
            self._runs.append(merged)
            self._merge = None
        return None


def _merge_piece(a: list[Entry], b: list[Entry], i: int, j: int,
                 merged: list[Entry]) -> tuple[int, int]:
    """Append to ``merged`` the next entries of sorted ``a`` (from ``i``) and ``b`` (from
    ``j``), all of them not greater than any entry left behind; where each run is then at."""
    if i == len(a):
        merged += b[j:j + PIECE]
        return i, min(j + PIECE, len(b))
    if j == len(b):
        merged += a[i:i + PIECE]
        return min(i + PIECE, len(a)), j
    # Up to PIECE of a, and what of b is not greater than the last of them; if that is more
    # than PIECE of b, PIECE of b and what of a is not greater than their last.
    i_end = min(i + PIECE, len(a))
    j_end = bisect_right(b, a[i_end - 1], j)
    if j_end - j > PIECE:
        j_end = j + PIECE
        i_end = bisect_right(a, b[j_end - 1], i, i_end)
    piece = a[i:i_end]
    piece += b[j:j_end]
    piece.sort()  # two sorted runs: one merge
    merged += piece
    return i_end, j_end


class IndexBuild:
    """The deadline index and pending book of one partition, from records added in any order."""

    __slots__ = ("_causes", "_counts", "_deadlines", "_order", "_sorted_deadlines",
                 "_sorted_order")

    def __init__(self) -> None:
        # Entries added since the last run was cut (plain lists: a call per entry would cost
        # more than the sorting saves), and the runs.
        self._deadlines: list[bytes] = []
        self._order: list[tuple[float, str]] = []
        self._sorted_deadlines: SortedRuns[bytes] = SortedRuns()
        self._sorted_order: SortedRuns[tuple[float, str]] = SortedRuns()
        self._counts: dict[tuple[str, AgeBand], int] = {}
        self._causes: dict[str, int] = {}

    def add(self, record: IndexedRecord) -> None:
        """What :meth:`DeadlineIndex.schedule` and :meth:`PendingBook.update` do for a record
        new to the indexes."""
        band = pending_band(record)
        if band is None:  # not pending: no deadline either (next_deadline says None too)
            cause = unsynced_cause(record)
        else:
            counts = self._counts
            counts[band] = counts.get(band, 0) + 1
            # issued_at is set: pending_band is None otherwise
            order = self._order
            order.append((record.issued_at, record.invoice_id))  # type: ignore[arg-type]
            deadline = next_deadline(record)
            if deadline is not None:
                self._deadlines.append(deadline_key(deadline, record.invoice_id))
            cause = unsynced_cause(record)
            if len(order) >= RUN:  # every deadline's invoice is pending: the longer list
                self._cut()
        if cause is not None:
            causes = self._causes
            causes[cause] = causes.get(cause, 0) + 1

    def _cut(self) -> None:
        self._sorted_deadlines.push(self._deadlines)
        self._sorted_order.push(self._order)
        self._deadlines, self._order = [], []

    def step(self) -> tuple[DeadlineIndex, PendingBook] | None:
        """One bounded piece of the sorting; the index and the book once it is done.
        No more :meth:`add` after the first step."""
        self._cut()
        deadlines = self._sorted_deadlines.step()
        if deadlines is None:
            return None
        order = self._sorted_order.step()
        if order is None:
            return None
        return DeadlineIndex(deadlines), PendingBook.of(order, self._counts, self._causes)
