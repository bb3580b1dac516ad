"""PendingBook: counts by region and age band, the oldest pending invoice, and paging order."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given
from hypothesis import strategies as st

from pipeline.correlation.pending import PendingBook, pending_band
from pipeline.correlation.state import Flag, InvoiceState, named_cause, with_cause


def issued(invoice_id: str, at: float, region: str = "110000") -> InvoiceState:
    return InvoiceState(invoice_id=invoice_id, partition=0, issued_at=at, region_code=region,
                        source_system="erp", warn_at=at + 900, critical_at=at + 14400)


def synced(state: InvoiceState) -> InvoiceState:
    return replace(state, ack_status="accepted", acknowledged_at=(state.issued_at or 0) + 5)


def test_bands_follow_the_alert_flags() -> None:
    base = issued("A", 100.0)
    assert pending_band(base) == ("110000", "within_sla")
    assert pending_band(replace(base, flags=Flag.WARNED)) == ("110000", "past_warning")
    assert pending_band(replace(base, flags=Flag.WARNED | Flag.ESCALATED)) == (
        "110000", "past_critical")
    assert pending_band(synced(base)) is None
    assert pending_band(InvoiceState(invoice_id="held", partition=0)) is None


def test_counts_and_oldest_follow_transitions() -> None:
    book = PendingBook()
    a, b = issued("A", 100.0), issued("B", 50.0, region="310000")
    book.update(None, a)
    book.update(None, b)
    assert book.counts == {("110000", "within_sla"): 1, ("310000", "within_sla"): 1}
    assert book.oldest_issued_at() == 50.0
    book.update(b, synced(b))
    assert book.oldest_issued_at() == 100.0
    assert len(book) == 1
    book.update(a, replace(a, flags=Flag.WARNED))
    assert book.counts == {("110000", "past_warning"): 1}
    book.update(replace(a, flags=Flag.WARNED), None)
    assert len(book) == 0 and book.oldest_issued_at() is None


def test_oldest_first_pages_by_issued_at_then_id() -> None:
    book = PendingBook()
    for invoice_id, at in [("C", 30.0), ("A", 10.0), ("B", 30.0), ("D", 40.0)]:
        book.update(None, issued(invoice_id, at))
    assert list(book.oldest_first()) == [(10.0, "A"), (30.0, "B"), (30.0, "C"), (40.0, "D")]
    assert list(book.oldest_first(after=(30.0, "B"))) == [(30.0, "C"), (40.0, "D")]
    assert list(book.oldest_first(issued_before=30.0)) == [(10.0, "A"), (30.0, "B"),
                                                            (30.0, "C")]
    book.update(issued("B", 30.0), synced(issued("B", 30.0)))
    assert [i for _, i in book.oldest_first()] == ["A", "C", "D"]


@given(st.lists(st.tuples(st.integers(0, 30), st.integers(0, 2), st.sampled_from(
    ["issue", "warn", "sync", "delete"])), max_size=120))
def test_oldest_first_matches_a_sorted_model(steps: list[tuple[int, int, str]]) -> None:
    book = PendingBook()
    records: dict[str, InvoiceState] = {}
    for number, minute, action in steps:
        invoice_id = f"I{number}"
        old = records.get(invoice_id)
        if action == "issue":
            new: InvoiceState | None = old or issued(invoice_id, 60.0 * minute + number % 7)
        elif action == "warn":
            new = old and replace(old, flags=old.flags | Flag.WARNED)
        elif action == "sync":
            new = old and synced(old)
        else:
            new = None
        book.update(old, new)
        if new is None:
            records.pop(invoice_id, None)
        else:
            records[invoice_id] = new
    pending = sorted((s.issued_at or 0.0, s.invoice_id) for s in records.values()
                     if pending_band(s) is not None)
    assert list(book.oldest_first()) == pending
    assert len(book) == len(pending) == sum(book.counts.values())
    assert book.oldest_issued_at() == (pending[0][0] if pending else None)
    if pending:
        middle = pending[len(pending) // 2]
        assert list(book.oldest_first(after=middle)) == [p for p in pending if p > middle]


def test_alerted_unsynced_invoices_are_counted_by_the_cause_their_alert_named() -> None:
    book = PendingBook()
    quiet = InvoiceState("a", 0, issued_at=1.0, region_code="110000")
    warned = replace(quiet, flags=Flag.WARNED)
    named = replace(warned, flags=with_cause(warned.flags, "platform_maintenance"))
    assert named_cause(named.flags) == "platform_maintenance" and named.flags & Flag.WARNED
    assert named_cause(warned.flags) is None
    book.update(None, quiet)
    assert book.causes == {}
    book.update(quiet, warned)
    assert book.causes == {"none": 1}
    book.update(warned, named)
    assert book.causes == {"platform_maintenance": 1}
    synced = replace(named, ack_status="accepted", acknowledged_at=2.0)
    book.update(named, synced)
    assert book.causes == {}
