"""Indexes built in bulk from records in any order equal the ones built record by record, and
the sorting is done in bounded pieces."""

from __future__ import annotations

import random
from dataclasses import replace
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.correlation import index_build
from pipeline.correlation.deadlines import DeadlineIndex
from pipeline.correlation.index_build import IndexBuild, SortedRuns, _merge_piece
from pipeline.correlation.pending import PendingBook
from pipeline.correlation.rules import next_deadline
from pipeline.correlation.state import InvoiceState

T0 = 1_800_000_000.0

record = st.builds(
    InvoiceState,
    invoice_id=st.just(""),  # made unique below
    partition=st.just(0),
    flags=st.integers(0, 2**16 - 1),
    issued_at=st.none() | st.floats(T0 - 1e6, T0 + 1e6),
    region_code=st.none() | st.sampled_from(["110000", "310000", ""]),
    warn_at=st.none() | st.floats(T0 - 1e6, T0 + 1e6),
    critical_at=st.none() | st.floats(T0 - 1e6, T0 + 1e6),
    ack_status=st.sampled_from([None, "accepted", "rejected", "duplicate"]),
)
records = st.lists(record, max_size=300).map(
    lambda rs: [replace(r, invoice_id=f"inv-{n:05d}") for n, r in enumerate(rs)])


def one_by_one(states: list[InvoiceState]) -> tuple[DeadlineIndex, PendingBook]:
    """What the correlator's event path builds (schedule and update per record)."""
    index, book = DeadlineIndex(), PendingBook()
    for state in states:
        index.schedule(state.invoice_id, next_deadline(state))
        book.update(None, state)
    return index, book


def in_bulk(states: list[InvoiceState]) -> tuple[tuple[DeadlineIndex, PendingBook], int]:
    build = IndexBuild()
    for state in states:
        build.add(state)
    steps = 1
    while (built := build.step()) is None:
        steps += 1
    return built, steps


def assert_equal(bulk: tuple[DeadlineIndex, PendingBook],
                 added: tuple[DeadlineIndex, PendingBook]) -> None:
    (index, book), (expected_index, expected_book) = bulk, added
    assert list(index._entries) == list(expected_index._entries)
    assert list(book.oldest_first()) == list(expected_book.oldest_first())
    assert book.counts == expected_book.counts and book.causes == expected_book.causes
    assert 0 not in book.counts.values() and 0 not in book.causes.values()


@given(records, st.randoms(use_true_random=False), st.integers(1, 9), st.integers(1, 9))
@settings(max_examples=300)
def test_the_same_indexes_as_adding_record_by_record(
        states: list[InvoiceState], rng: random.Random, run: int, piece: int) -> None:
    rng.shuffle(states)
    with mock.patch.object(index_build, "RUN", run), mock.patch.object(index_build, "PIECE",
                                                                        piece):
        bulk, _ = in_bulk(states)
    assert_equal(bulk, one_by_one(states))


@pytest.mark.parametrize("order", ["sorted", "reversed", "random", "equal deadlines"])
def test_large_partitions_in_any_key_order(order: str) -> None:
    rng = random.Random(11)
    states = [InvoiceState(f"inv-{n:06d}", 0, issued_at=T0 + n, region_code="110000",
                           warn_at=T0 + (900 if order == "equal deadlines" else n + 900),
                           critical_at=T0 + 3600) for n in range(30_000)]
    if order == "reversed":
        states.reverse()
    elif order == "random":
        rng.shuffle(states)
    bulk, steps = in_bulk(states)
    assert_equal(bulk, one_by_one(states))
    assert len(bulk[0]) == 30_000 and len(bulk[1]) == 30_000
    if order == "random":  # overlapping runs: merged a piece at a time
        assert steps > 2 * 30_000 // (2 * index_build.PIECE)


@given(st.lists(st.integers(0, 50)), st.lists(st.integers(0, 50)), st.integers(1, 6))
def test_a_merge_piece_is_bounded_and_never_passes_what_is_left(
        a: list[int], b: list[int], piece: int) -> None:
    a.sort()
    b.sort()
    merged: list[tuple[float, str]] = []
    i = j = 0
    with mock.patch.object(index_build, "PIECE", piece):
        while i < len(a) or j < len(b):
            before = len(merged)
            i_next, j_next = _merge_piece(
                [(x, "") for x in a], [(x, "") for x in b], i, j, merged)
            assert 0 < len(merged) - before <= 2 * piece
            assert (i_next - i) + (j_next - j) == len(merged) - before
            left = [x for x, _ in merged[-1:]]
            assert all(left[0] <= x for x in a[i_next:] + b[j_next:])
            i, j = i_next, j_next
    assert [x for x, _ in merged] == sorted(a + b)


def test_no_runs_give_an_empty_index() -> None:
    assert SortedRuns().step() == []
    built = IndexBuild().step()
    assert built is not None
    index, book = built
    assert len(index) == 0 and len(book) == 0 and not book.counts
