"""PendingBook: counts by region and age band, the oldest pending invoice, and paging order."""

from __future__ import annotations

from dataclasses import replace

from pipeline.correlation.pending import PendingBook, pending_band
from pipeline.correlation.state import Flag, InvoiceState


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
