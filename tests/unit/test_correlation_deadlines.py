"""DeadlineIndex: invoices in (due_at, invoice_id) order; callers say what was scheduled."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from pipeline.correlation import DeadlineIndex


def test_pop_due_in_order_up_to_until_and_limit() -> None:
    index = DeadlineIndex()
    for invoice_id, at in [("c", 30.0), ("a", 10.0), ("b", 20.0), ("d", 40.0)]:
        index.schedule(invoice_id, at)
    assert index.peek() == 10.0
    assert index.pop_due(until=30.0, limit=2) == ["a", "b"]
    assert index.pop_due(until=30.0, limit=10) == ["c"]
    assert index.pop_due(until=30.0, limit=10) == []
    assert index.pop_due(until=100.0, limit=0) == []
    assert len(index) == 1
    assert index.peek() == 40.0


def test_reschedule_and_cancel_leave_no_stale_entries() -> None:
    index = DeadlineIndex()
    index.schedule("a", 10.0)
    index.schedule("b", 15.0)
    index.schedule("a", 50.0, was=10.0)  # moved later
    index.schedule("b", None, was=15.0)  # cancelled
    assert len(index) == 1
    assert index.peek() == 50.0
    assert index.pop_due(until=20.0, limit=10) == []
    assert index.pop_due(until=50.0, limit=10) == ["a"]
    assert index.peek() is None and len(index) == 0


def test_unchanged_due_time_is_one_entry_and_popped_ids_come_back_with_was_none() -> None:
    index = DeadlineIndex()
    index.schedule("a", 10.0)
    index.schedule("a", 10.0, was=10.0)
    assert len(index) == 1
    assert index.pop_due(until=10.0, limit=10) == ["a"]
    index.schedule("a", 10.0)  # popped, nothing fired (e.g. the watermark): back in
    assert index.pop_due(until=10.0, limit=10) == ["a"]
    assert index.pop_due(until=10.0, limit=10) == []


def test_memory_does_not_grow_under_churn() -> None:
    index = DeadlineIndex()
    was = None
    for n in range(10_000):
        index.schedule("a", float(n), was=was)
        was = float(n)
    assert len(index) == 1


def test_ties_order_by_id_as_strings_do_and_a_time_before_the_epoch_counts_as_the_epoch(
        ) -> None:
    index = DeadlineIndex()
    for invoice_id in ["\u4e2d", "z", "a\u00e9", "ab", "a"]:
        index.schedule(invoice_id, 5.0)
    index.schedule("early", -30.0)
    assert index.peek() == 0.0
    assert index.pop_due(until=-1.0, limit=10) == []
    assert index.pop_due(until=0.0, limit=10) == ["early"]
    assert index.pop_due(until=5.0, limit=10) == sorted(["\u4e2d", "z", "a\u00e9", "ab", "a"])
    index.schedule("late", -30.0)
    index.schedule("late", None, was=-30.0)  # found again under the epoch's key
    assert len(index) == 0


# Few ids (some outside ASCII, where UTF-8 bytes must order as the strings) and times with ties.
ops = st.lists(
    st.tuples(st.sampled_from(["a", "ab", "b", "\u00e9", "\u4e2d", "INV-9"]),
              st.none() | st.sampled_from([0.0, 1.5, 2.0, 1e9]) | st.floats(0, 100,
                                                                           allow_nan=False)),
    max_size=60,
)


@given(ops, st.floats(0, 100), st.integers(0, 8))
def test_matches_a_plain_dict(
    schedule: list[tuple[str, float | None]], until: float, limit: int
) -> None:
    index = DeadlineIndex()
    model: dict[str, float] = {}
    for invoice_id, at in schedule:
        index.schedule(invoice_id, at, was=model.get(invoice_id))
        if at is None:
            model.pop(invoice_id, None)
        else:
            model[invoice_id] = at
    assert len(index) == len(model)
    assert index.peek() == min(model.values(), default=None)
    popped = index.pop_due(until, limit)
    due = sorted((at, key) for key, at in model.items() if at <= until)
    assert popped == [key for _, key in due[:limit]]
    assert len(index) == len(model) - len(popped)
