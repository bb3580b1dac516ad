"""Which invoices are due next: one sorted list of (due_at, invoice_id) per partition.

There is no map from invoice to due time beside the list: the caller says what an invoice's
due time was (``was``, from the record before the change) and what it is now, as the adapter
can from the old and new record of every transition. That keeps one entry (a tuple and a list
slot) per invoice waiting for a deadline, and no stale entries to skip or compact.
"""

from __future__ import annotations

from collections.abc import Iterable

from sortedcontainers import SortedList


class DeadlineIndex:
    """(due_at, invoice_id) in order; ``schedule`` is O(log n), ``pop_due`` O(k log n)."""

    __slots__ = ("_entries",)

    def __init__(self, entries: Iterable[tuple[float, str]] = ()) -> None:
        """``entries``: (due_at, invoice_id) to start with, one per invoice; built in one
        pass (O(n) when they come sorted), not inserted one by one."""
        self._entries: SortedList = SortedList(entries)

    def schedule(self, invoice_id: str, due_at: float | None, *,
                 was: float | None = None) -> None:
        """Move ``invoice_id`` from ``was`` to ``due_at`` (None: not scheduled).

        ``was`` must be what the invoice was last scheduled at, or None if it is not in the
        index (never scheduled, or already popped by :meth:`pop_due`).
        """
        if was == due_at:
            return
        if was is not None:
            self._entries.discard((was, invoice_id))
        if due_at is not None:
            self._entries.add((due_at, invoice_id))

    def pop_due(self, until: float, limit: int) -> list[str]:
        """Up to ``limit`` invoice ids due at or before ``until``, earliest first.

        Popped ids are unscheduled: the caller runs ``on_due`` and schedules the record's
        next deadline again (with ``was=None``).
        """
        entries = self._entries
        count = 0
        for at, _ in entries:
            if count == limit or at > until:
                break
            count += 1
        due = [invoice_id for _, invoice_id in entries[:count]]
        del entries[:count]
        return due

    def peek(self) -> float | None:
        """The earliest scheduled due time, or None when nothing is scheduled."""
        if not self._entries:
            return None
        at: float = self._entries[0][0]
        return at

    def __len__(self) -> int:
        return len(self._entries)
