"""Which invoices are due next: a min-heap with lazy invalidation, one per partition."""

from __future__ import annotations

import heapq


class DeadlineIndex:
    """Min-heap of (due_at, invoice_id); rescheduling leaves stale entries that are skipped.

    ``schedule`` is O(log n); ``pop_due`` costs in proportion to what is due (plus stale
    entries it meets). The heap is rebuilt when stale entries outnumber live ones, so
    memory stays within a small factor of the number of scheduled invoices.
    """

    __slots__ = ("_due", "_heap")

    def __init__(self) -> None:
        self._heap: list[tuple[float, str]] = []
        self._due: dict[str, float] = {}

    def schedule(self, invoice_id: str, due_at: float | None) -> None:
        """Set (or with None, clear) when ``invoice_id`` is next due."""
        if due_at is None:
            self._due.pop(invoice_id, None)
            return
        if self._due.get(invoice_id) == due_at:
            return
        self._due[invoice_id] = due_at
        heapq.heappush(self._heap, (due_at, invoice_id))
        if len(self._heap) > 2 * len(self._due) + 64:
            self._heap = [(at, key) for key, at in self._due.items()]
            heapq.heapify(self._heap)

    def pop_due(self, until: float, limit: int) -> list[str]:
        """Up to ``limit`` invoice ids due at or before ``until``, earliest first.

        Popped ids are unscheduled: the caller runs ``on_due`` and schedules the record's
        ``next_due`` again.
        """
        due: list[str] = []
        heap = self._heap
        while heap and len(due) < limit and heap[0][0] <= until:
            at, invoice_id = heapq.heappop(heap)
            if self._due.get(invoice_id) == at:
                del self._due[invoice_id]
                due.append(invoice_id)
        return due

    def peek(self) -> float | None:
        """The earliest scheduled due time, or None when nothing is scheduled."""
        heap = self._heap
        while heap and self._due.get(heap[0][1]) != heap[0][0]:
            heapq.heappop(heap)
        return heap[0][0] if heap else None

    def __len__(self) -> int:
        return len(self._due)

    def __contains__(self, invoice_id: object) -> bool:
        return invoice_id in self._due
