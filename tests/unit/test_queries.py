"""The operator API's pure part: parameters, views, paging across workers, summaries."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from pipeline.correlation.alerts import invoice_alert_id
from pipeline.correlation.pending import PendingBook
from pipeline.correlation.state import Flag, InvoiceState
from pipeline.queries.paging import PendingScan, local_page, merge_pages
from pipeline.queries.params import (
    MAX_LIMIT,
    Cursor,
    PendingQuery,
    QueryError,
    SummaryQuery,
    check_invoice_id,
    parse_pending,
    parse_summary,
)
from pipeline.queries.summary import LatencySketch, Summary
from pipeline.queries.views import invoice_view, pending_item, sync_status

NOW = 1_800_000_000.0


def issued(invoice_id: str, at: float, region: str = "110000", **changes: Any) -> InvoiceState:
    state = InvoiceState(invoice_id=invoice_id, partition=0, issued_at=at, region_code=region,
                         source_system="erp", seller_tax_id="91110108MA01AB2C0H",
                         warn_at=at + 900, critical_at=at + 14400)
    return replace(state, **changes)


def accepted(state: InvoiceState, latency: float) -> InvoiceState:
    return replace(state, ack_status="accepted",
                   acknowledged_at=(state.issued_at or 0) + latency)


# -- parameters -----------------------------------------------------------------------------

def test_pending_parameters_are_parsed() -> None:
    cursor = Cursor(NOW, "A").encode()
    query = parse_pending({"region_code": "110000", "source_system": "erp",
                           "older_than": "15m", "limit": "20", "cursor": cursor})
    assert query == PendingQuery("110000", "erp", 900.0, 20, Cursor(NOW, "A"))
    assert parse_pending(query.to_params()) == query
    assert parse_pending({}) == PendingQuery()


@pytest.mark.parametrize(("params", "names"), [
    ({"limit": "0"}, "limit"),
    ({"limit": str(MAX_LIMIT + 1)}, "limit"),
    ({"limit": "ten"}, "limit"),
    ({"limit": "²"}, "limit"),
    ({"limit": "9" * 5000}, "limit"),
    ({"older_than": "soon"}, "older_than"),
    ({"older_than": "-5m"}, "older_than"),
    ({"region_code": "BJ"}, "region_code"),
    ({"cursor": "not-a-cursor"}, "cursor"),
    ({"cursor": Cursor(NOW, "A").encode()[:-3]}, "cursor"),
    ({"colour": "red"}, "colour"),
])
def test_bad_pending_parameters_name_the_parameter(params: dict[str, str], names: str) -> None:
    with pytest.raises(QueryError, match=names):
        parse_pending(params)


def test_summary_parameters_accept_iso_with_offset_or_epoch() -> None:
    query = parse_summary({"since": "2026-11-01T00:00:00+08:00", "until": "1800000000"})
    assert query.since == datetime(2026, 10, 31, 16, tzinfo=UTC).timestamp()
    assert query.until == NOW
    assert parse_summary(query.to_params()) == query
    for bad in ({"since": "2026-11-01"}, {"since": "yesterday"}, {"until": "-1"},
                {"since": "200", "until": "100"}, {"period": "month"}):
        with pytest.raises(QueryError):
            parse_summary(bad)


def test_invoice_ids_are_checked() -> None:
    assert check_invoice_id("24111000000000000001") == "24111000000000000001"
    for bad in ("", "x" * 65, "bad\nid"):
        with pytest.raises(QueryError, match="invoice_id"):
            check_invoice_id(bad)


# -- views ----------------------------------------------------------------------------------

def test_invoice_view_shows_status_acknowledgement_latency_and_alerts() -> None:
    state = accepted(issued("A", NOW - 3600, flags=Flag.WARNED | Flag.RESOLVED), 1200.0)
    view = invoice_view(state, now=NOW)
    assert view["status"] == "synced" and view["latency_seconds"] == 1200.0
    assert view["age_seconds"] is None
    assert view["acknowledgement"]["status"] == "accepted"
    assert view["issued_at"] == "2027-01-15T07:00:00+00:00"
    assert view["alerts"] == [
        {"alert_id": invoice_alert_id("A", "unsynced", "warning"), "kind": "unsynced",
         "severity": "warning"},
        {"alert_id": invoice_alert_id("A", "resolved", "info"), "kind": "resolved",
         "severity": "info"}]
    pending = invoice_view(issued("B", NOW - 60), now=NOW)
    assert pending["status"] == "pending" and pending["age_seconds"] == 60.0
    assert pending["acknowledgement"] is None and pending["alerts"] == []


@pytest.mark.parametrize("at", [-62135596860.0, 253402300859.0 + 60, float("inf")],
                         ids=["year 0", "year 10000", "infinite"])
def test_a_stored_time_outside_datetime_shows_as_null_not_an_error(at: float) -> None:
    """Records admitted before issue 10's contract bound may hold such times: the view
    must still answer (it raised ValueError, a plain-text 500)."""
    view = invoice_view(issued("C", at), now=NOW)
    assert view["issued_at"] is None and view["status"] == "pending"
    assert pending_item(issued("C", at), now=NOW)["issued_at"] is None


def test_sync_status_of_each_record_shape() -> None:
    base = issued("A", NOW)
    assert sync_status(base) == "pending"
    assert sync_status(replace(base, ack_status="rejected")) == "rejected"
    assert sync_status(replace(base, ack_status="duplicate")) == "synced"
    assert sync_status(InvoiceState(invoice_id="A", partition=0, ack_status="accepted",
                                    held_since=NOW)) == "acknowledged_not_issued"


# -- paging ---------------------------------------------------------------------------------

def _worker(states: list[InvoiceState]) -> tuple[PendingBook, dict[str, InvoiceState]]:
    book = PendingBook()
    for state in states:
        book.update(None, state)
    return book, {s.invoice_id: s for s in states}


def _page(worker: tuple[PendingBook, dict[str, InvoiceState]],
          query: PendingQuery) -> dict[str, Any]:
    book, records = worker
    candidates = book.oldest_first(after=query.cursor.key() if query.cursor else None)
    return local_page(candidates, records.get, query, now=NOW)


def test_pages_merged_from_two_workers_walk_every_pending_invoice_once_in_order() -> None:
    first = _worker([issued(f"A{i}", NOW - 100 + 2 * i) for i in range(7)])
    second = _worker([issued(f"B{i}", NOW - 99 + 2 * i) for i in range(6)]
                     + [issued("Bsame", NOW - 100)])
    walked: list[str] = []
    query = PendingQuery(limit=4)
    while True:
        page = merge_pages([_page(first, query), _page(second, query)], query.limit)
        assert page["count"] <= 4
        walked += [row["invoice_id"] for row in page["items"]]
        if page["next_cursor"] is None:
            break
        query = parse_pending({"limit": "4", "cursor": page["next_cursor"]})
    everyone = sorted(list(first[1].values()) + list(second[1].values()),
                      key=lambda s: (s.issued_at, s.invoice_id))
    assert walked == [s.invoice_id for s in everyone]


def test_local_page_filters_on_region_and_source_and_skips_synced() -> None:
    worker = _worker([issued("A", NOW - 50, "110000"), issued("B", NOW - 40, "310000"),
                      issued("C", NOW - 30, "110000", source_system="pos")])
    records = worker[1]
    records["A"] = accepted(records["A"], 5)  # synced since the book last saw it
    page = _page(worker, PendingQuery(region_code="110000"))
    assert [r["invoice_id"] for r in page["items"]] == ["C"]
    page = _page(worker, PendingQuery(source_system="erp"))
    assert [r["invoice_id"] for r in page["items"]] == ["B"]
    assert page["has_more"] is False


def test_a_full_page_says_there_is_more_only_when_there_is() -> None:
    worker = _worker([issued(f"A{i}", NOW - i) for i in range(3)])
    assert _page(worker, PendingQuery(limit=3))["has_more"] is False
    assert _page(worker, PendingQuery(limit=2))["has_more"] is True
    merged = merge_pages([_page(worker, PendingQuery(limit=3))], 3)
    assert merged["next_cursor"] is None and merged["count"] == 3


# -- summary --------------------------------------------------------------------------------

def test_latency_sketch_quantiles_are_within_one_percent() -> None:
    sketch = LatencySketch()
    for seconds in range(1, 1001):
        sketch.add(float(seconds))
    for q, exact in ((0.5, 500.5), (0.9, 900.1), (0.99, 990.01)):
        value = sketch.quantile(q)
        assert value is not None and abs(value - exact) / exact <= 0.011, (q, value)
    assert LatencySketch().quantile(0.5) is None
    zero = LatencySketch()
    zero.add(0.0)
    assert zero.quantile(0.99) == 0.0


def test_summaries_of_two_workers_merge_into_the_group_answer() -> None:
    query = SummaryQuery(since=NOW - 1000)
    one, two = Summary(), Summary()
    for state in (accepted(issued("A", NOW - 500), 10.0), issued("B", NOW - 400),
                  replace(issued("C", NOW - 300, "310000"), ack_status="rejected",
                          flags=Flag.REJECTION_ALERTED),
                  issued("old", NOW - 5000)):
        one.add(state, query)
    for state in (accepted(issued("D", NOW - 200, "310000"), 30.0),
                  issued("E", NOW - 100, flags=Flag.WARNED | Flag.RED),
                  InvoiceState(invoice_id="F", partition=1, ack_status="accepted",
                               acknowledged_at=NOW - 50, held_since=NOW - 50)):
        two.add(state, query)
    total = Summary.from_json(one.to_json())
    total.merge(Summary.from_json(two.to_json()))
    report = total.report(query)
    assert (report["issued"], report["synced"], report["pending"], report["rejected"]) == (
        5, 2, 2, 1)
    assert report["acknowledged_not_issued"] == 1 and report["red_letter"] == 1
    assert report["alerted"] == {"warning": 1, "critical": 0}
    assert report["by_region"] == {
        "110000": {"issued": 3, "synced": 1, "pending": 2, "rejected": 0, "closed": 0},
        "310000": {"issued": 2, "synced": 1, "pending": 0, "rejected": 1, "closed": 0}}
    assert report["latency_seconds"]["count"] == 2 and report["latency_seconds"]["max"] == 30.0
    assert abs(report["latency_seconds"]["p50"] - 10.0) <= 0.1
    beijing = Summary()
    for state in (issued("A", NOW - 500), issued("C", NOW - 300, "310000")):
        beijing.add(state, SummaryQuery(region_code="110000"))
    assert beijing.report(SummaryQuery(region_code="110000"))["issued"] == 1


# -- bounded scans ----------------------------------------------------------------------------

def test_a_filter_matching_nothing_stops_at_the_budget_and_the_cursor_walks_on() -> None:
    """Two workers, budget 3 each: no page examines more than 3 per worker, and following
    next_cursor finds exactly the matching invoices, in order, whatever the page sizes."""
    first = _worker([issued(f"A{i}", NOW - 100 + 2 * i, "310000") for i in range(10)]
                    + [issued("Amatch", NOW - 81, "110000")])
    second = _worker([issued(f"B{i}", NOW - 99 + 2 * i, "310000") for i in range(9)]
                     + [issued("Bmatch", NOW - 50, "110000")])

    def page_of(worker: tuple[PendingBook, dict[str, InvoiceState]],
                query: PendingQuery) -> dict[str, Any]:
        book, records = worker
        scan = PendingScan(query, now=NOW, budget=3)
        scan.feed(book.oldest_first(after=scan.position), records.get, slice_size=2)
        while not scan.done:
            scan.feed(book.oldest_first(after=scan.position), records.get, slice_size=2)
        assert scan.examined <= 3
        return scan.page()

    found, pages = [], 0
    query = PendingQuery(region_code="110000", limit=1)
    while True:
        pages += 1
        page = merge_pages([page_of(first, query), page_of(second, query)], query.limit)
        found += [row["invoice_id"] for row in page["items"]]
        if page["next_cursor"] is None:
            break
        query = parse_pending({"region_code": "110000", "limit": "1",
                               "cursor": page["next_cursor"]})
    assert found == ["Amatch", "Bmatch"]
    assert pages >= 4  # 21 pending, 6 examined per page at most


def test_an_unbudgeted_page_reports_no_scan_stop() -> None:
    worker = _worker([issued(f"A{i}", NOW - i) for i in range(3)])
    assert _page(worker, PendingQuery(region_code="999999"))["scanned_to"] is None
