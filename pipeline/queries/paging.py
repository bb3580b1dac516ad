"""Pages of pending invoices: one worker's page, and the merge of every worker's pages.

Keyset paging on (issued_at, invoice_id): each worker returns up to ``limit`` rows strictly
after the cursor, oldest first; the merge keeps the ``limit`` oldest of all of them. A row
beyond the first ``limit`` of the merge is never lost: the next page starts after the last row
shown, and every worker answers again from there.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from pipeline.correlation.state import InvoiceState

from .params import Cursor, PendingQuery
from .views import pending_item


class PendingScan:
    """One worker's page of pending invoices, built from candidates fed in slices.

    Candidates are (issued_at, invoice_id) pending on this worker, oldest first, strictly after
    :attr:`position` and older than ``older_than``; ``load`` reads a record to filter on. The
    scan ends when the page is full and one more row matched (``has_more``), when the
    candidates run out, or when ``budget`` candidates were examined: then the page says how far
    it got (``scanned_to``) and the merge continues from there on the next page, so a filter
    that matches nothing answers in bounded time instead of walking every pending invoice.
    """

    def __init__(self, query: PendingQuery, *, now: float, budget: int | None = None) -> None:
        self.query = query
        self.now = now
        self.budget = budget
        self.rows: list[dict[str, Any]] = []
        self.examined = 0
        self.position: tuple[float, str] | None = query.cursor.key() if query.cursor else None
        self.done = False
        self._more = False
        self._stopped_early = False

    def feed(self, candidates: Iterable[tuple[float, str]],
             load: Callable[[str], InvoiceState | None], *, slice_size: int | None = None,
             ) -> None:
        """Examine up to ``slice_size`` candidates; :attr:`done` once the page is decided.

        Candidates not examined are not lost: the next slice starts after :attr:`position`.
        """
        taken = 0
        query = self.query
        for key in candidates:
            if slice_size is not None and taken == slice_size:
                return
            if self.budget is not None and self.examined >= self.budget:
                self.done = self._stopped_early = True
                return
            taken += 1
            self.examined += 1
            self.position = key
            state = load(key[1])
            if state is None or not state.is_issued or state.is_synced or state.is_closed:
                continue
            if query.region_code is not None and state.region_code != query.region_code:
                continue
            if query.source_system is not None and state.source_system != query.source_system:
                continue
            if query.seller_tax_id is not None and state.seller_tax_id != query.seller_tax_id:
                continue
            if len(self.rows) == query.limit:
                self._more = self.done = True
                return
            self.rows.append(pending_item(state, now=self.now))
        self.done = True

    def page(self) -> dict[str, Any]:
        """The worker's answer to the merge (``scanned_to`` is None unless the budget ran out)."""
        scanned_to = list(self.position) if self._stopped_early and self.position else None
        return {"items": self.rows, "has_more": self._more, "scanned_to": scanned_to}


def local_page(candidates: Iterator[tuple[float, str]],
               load: Callable[[str], InvoiceState | None],
               query: PendingQuery, *, now: float, budget: int | None = None,
               ) -> dict[str, Any]:
    """The oldest ``query.limit`` matching rows of one worker, in one go (see PendingScan)."""
    scan = PendingScan(query, now=now, budget=budget)
    scan.feed(candidates, load)
    return scan.page()


def merge_pages(pages: Sequence[dict[str, Any]], limit: int) -> dict[str, Any]:
    """The ``limit`` oldest rows across workers, and the cursor of the next page (or None).

    A worker that ran out of scan budget has examined only up to its ``scanned_to``: rows of
    other workers beyond the lowest such point are left for the next page (they would skip
    that worker's unexamined invoices), and the cursor continues from it. Such a page may hold
    fewer than ``limit`` rows, even none, and still have a ``next_cursor``.
    """
    def key(row: dict[str, Any]) -> tuple[float, str]:
        return (row["issued_ts"], row["invoice_id"])

    merged = list(heapq.merge(*(page["items"] for page in pages), key=key))
    stops = [(float(p["scanned_to"][0]), str(p["scanned_to"][1]))
             for p in pages if p.get("scanned_to")]
    horizon = min(stops) if stops else None
    if horizon is not None:
        merged = [row for row in merged if key(row) <= horizon]
    more = len(merged) > limit or any(page["has_more"] for page in pages) or horizon is not None
    merged = merged[:limit]
    cursor = None
    if more:
        at = key(merged[-1]) if len(merged) == limit or horizon is None else horizon
        cursor = Cursor(*at).encode()
    return {"items": merged, "count": len(merged), "next_cursor": cursor}
