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


def local_page(candidates: Iterator[tuple[float, str]],
               load: Callable[[str], InvoiceState | None],
               query: PendingQuery, *, now: float) -> dict[str, Any]:
    """The oldest ``query.limit`` matching rows of one worker.

    ``candidates`` are (issued_at, invoice_id) pending on this worker, oldest first, already
    after the cursor and older than ``older_than``; ``load`` reads a record to filter on.
    """
    rows: list[dict[str, Any]] = []
    more = False
    for _, invoice_id in candidates:
        state = load(invoice_id)
        if state is None or not state.is_issued or state.is_synced:
            continue
        if query.region_code is not None and state.region_code != query.region_code:
            continue
        if query.source_system is not None and state.source_system != query.source_system:
            continue
        if len(rows) == query.limit:
            more = True
            break
        rows.append(pending_item(state, now=now))
    return {"items": rows, "has_more": more}


def merge_pages(pages: Sequence[dict[str, Any]], limit: int) -> dict[str, Any]:
    """The ``limit`` oldest rows across workers, and the cursor of the next page (or None)."""
    rows: Iterable[dict[str, Any]] = heapq.merge(
        *(page["items"] for page in pages), key=lambda r: (r["issued_ts"], r["invoice_id"]))
    merged = list(rows)
    more = len(merged) > limit or any(page["has_more"] for page in pages)
    merged = merged[:limit]
    cursor = None
    if more and merged:
        last = merged[-1]
        cursor = Cursor(last["issued_ts"], last["invoice_id"]).encode()
    return {"items": merged, "count": len(merged), "next_cursor": cursor}
