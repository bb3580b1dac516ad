"""The ack watermark from offsets: samples (t, end offset) against processing progress."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.correlation.watermark import MAX_SAMPLES, MIN_LOSS, AckWatermarks


@dataclass(frozen=True)
class Case:
    name: str
    samples: tuple[tuple[float, int], ...]
    processed: int | None  # offset of the last processed ack (None: none), all processed
    # from the committed offset (if any) up to it
    committed: int | None
    now: float
    expected: float


CASES = [
    Case("nothing known", (), None, None, 100.0, 0.0),
    Case("a sample not reached", ((10.0, 5),), 3, None, 100.0, 0.0),
    Case("a sample reached exactly", ((10.0, 5),), 4, None, 100.0, 10.0),
    Case("the latest reached sample wins", ((10.0, 5), (20.0, 7), (30.0, 9)), 6, None,
         100.0, 20.0),
    Case("an empty partition is reached at offset 0", ((10.0, 0),), None, None, 100.0, 10.0),
    Case("the committed offset stands for progress", ((10.0, 5),), None, 5, 100.0, 10.0),
    Case("progress is the larger of both", ((10.0, 5), (20.0, 8)), 7, 5, 100.0, 20.0),
    Case("capped at now", ((10.0, 5),), 4, None, 8.0, 8.0),
    Case("a later sample with the same end offset supersedes", ((10.0, 5), (20.0, 5)), 4,
         None, 100.0, 20.0),
    Case("a later sample with a smaller end offset (truncated log) supersedes",
         ((10.0, 9), (20.0, 5)), 4, None, 100.0, 20.0),
    Case("an out-of-order sample (earlier t) is ignored", ((20.0, 9), (10.0, 5)), 4, None,
         100.0, 0.0),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_watermark(case: Case) -> None:
    marks = AckWatermarks()
    for at, end in case.samples:
        marks.sample(0, at, end)
    if case.processed is not None:  # every offset from the committed one on was processed
        first = case.processed if case.committed is None else case.committed
        for offset in range(first, case.processed + 1):
            marks.observe_offset(0, offset)
    assert marks.value(0, committed=case.committed, now=case.now) == case.expected


def test_acknowledged_at_plays_no_part() -> None:
    """Reading an ack stamped 'now' does not move the watermark: only offsets do (issue 10)."""
    marks = AckWatermarks()
    marks.sample(0, 600.0, 2)  # two acks in the partition at t=600
    marks.observe_offset(0, 0)  # the first (stamped 600) is read, the second is not
    assert marks.value(0, committed=None, now=600.0) == 0.0
    marks.observe_offset(0, 1)
    assert marks.value(0, committed=None, now=600.0) == 600.0


def test_samples_stay_bounded_and_thinning_never_raises_the_watermark() -> None:
    marks = AckWatermarks()
    for n in range(10 * MAX_SAMPLES):
        marks.sample(0, float(n), n)
    assert len(marks._marks[0].samples) <= MAX_SAMPLES
    marks.observe_offset(0, 5 * MAX_SAMPLES - 1)  # progress 5*MAX
    value = marks.value(0, committed=None, now=1e9)
    assert value <= 5 * MAX_SAMPLES  # exact would be 5*MAX; thinned is at most that
    # Thinned evenly: one step is about 10 samples (10*MAX over MAX kept).
    assert value >= 5 * MAX_SAMPLES - 25
    # Reached samples are dropped.
    assert all(end > 5 * MAX_SAMPLES for _, end in marks._marks[0].samples)


def test_a_hold_caps_every_partition_until_it_ends() -> None:
    marks = AckWatermarks()
    marks.sample(0, 50.0, 0)
    marks.sample(1, 50.0, 0)
    marks.hold(at=20.0, until=80.0)
    assert marks.value(0, committed=0, now=60.0) == 20.0
    assert marks.value(1, committed=0, now=79.9) == 20.0
    assert marks.held_until(79.9) == 80.0
    assert marks.value(0, committed=0, now=80.0) == 50.0
    assert marks.held_until(80.0) is None


def test_overlapping_holds_combine_into_the_stricter() -> None:
    marks = AckWatermarks()
    marks.sample(0, 100.0, 0)
    marks.hold(at=20.0, until=80.0)
    marks.hold(at=50.0, until=90.0)  # a second loss before the first settle period ended
    assert marks.value(0, committed=0, now=85.0) == 20.0


def test_a_hole_in_what_was_processed_holds_the_watermark_until_it_is_read() -> None:
    """A batch lost in a rebalance leaves offsets unprocessed below processed ones: progress
    stops at the hole (fault suite, rebalance scenario: false alarms without this)."""
    marks = AckWatermarks()
    marks.sample(0, 600.0, 4)  # four acks appended before t=600
    for offset in (0, 1, 3):  # offset 2's batch was dropped; the next fetch went on
        marks.observe_offset(0, offset)
    assert marks.value(0, committed=0, now=700.0) == 0.0
    for offset in (2, 3):  # read again from the committed offset
        marks.observe_offset(0, offset)
    assert marks.value(0, committed=0, now=700.0) == 600.0


def test_a_hole_right_after_the_committed_offset_counts_too() -> None:
    marks = AckWatermarks()
    marks.sample(0, 600.0, 4)
    for offset in (2, 3):  # offsets 0 and 1 (from the committed offset on) never came
        marks.observe_offset(0, offset)
    assert marks.value(0, committed=0, now=700.0) == 0.0
    assert marks.value(0, committed=2, now=700.0) == 600.0  # the group got past them
    for offset in range(4):
        marks.observe_offset(0, offset)
    assert marks.value(0, committed=0, now=700.0) == 600.0


def test_a_revoked_partition_is_forgotten() -> None:
    marks = AckWatermarks()
    marks.sample(0, 10.0, 0)
    marks.forget(0)
    assert marks.value(0, committed=0, now=100.0) == 0.0


# -- interleavings ---------------------------------------------------------------------------

_step = st.one_of(
    st.tuples(st.just("append"), st.integers(1, 3)),  # acks appended now
    st.tuples(st.just("sample"), st.integers(0, 3)),  # t now; answer after k more appends
    st.tuples(st.just("process"), st.integers(1, 4)),
    st.tuples(st.just("advance"), st.floats(0.0, 5.0)),
    st.tuples(st.just("hold"), st.floats(0.0, 20.0)),
)


@settings(max_examples=400, deadline=None)
@given(prefix=st.integers(0, 5), steps=st.lists(_step, max_size=80))
def test_no_watermark_passes_an_unread_ack(prefix: int, steps: list[tuple[str, float]]) -> None:
    """Whatever the interleaving of appends, samples (answered late), processing and holds:
    every ack appended before the watermark has been processed."""
    clock = 1000.0
    appended_at = [clock - 1] * prefix  # read and committed by a previous owner
    committed = prefix
    processed = prefix
    marks = AckWatermarks()
    for op, arg in steps:
        if op == "append":
            appended_at += [clock] * int(arg)
        elif op == "sample":
            at = clock  # read before the request...
            appended_at += [clock] * int(arg)  # ...which the broker answers after more appends
            marks.sample(0, at, len(appended_at))
        elif op == "process":
            new = min(len(appended_at), processed + int(arg))
            for offset in range(processed, new):  # the processor marks every record read
                marks.observe_offset(0, offset)
            processed = max(processed, new)
        elif op == "advance":
            clock += arg
        else:
            marks.hold(at=clock - arg, until=clock + arg)
        watermark = marks.value(0, committed=committed, now=clock)
        unread_before = [at for at in appended_at[processed:] if at < watermark]
        assert unread_before == [], (watermark, processed, appended_at)


def test_a_loss_holds_every_watermark_for_the_settle_period_after_the_regain() -> None:
    marks = AckWatermarks()
    marks.sample(0, 100.0, 0)
    assert marks.broker_reached(100.0, settle=30.0, now=100.1) is None
    assert marks.broker_lost(101.0)
    assert not marks.broker_lost(102.0)  # one loss, however many failures
    assert marks.broker_reached(160.0, settle=30.0, now=160.1) == pytest.approx(190.1)
    marks.sample(0, 160.0, 0)
    assert marks.value(0, committed=0, now=170.0) == 100.0  # the last contact before the loss
    assert marks.value(0, committed=0, now=190.1) == 160.0


def test_a_blip_shorter_than_min_loss_holds_nothing() -> None:
    marks = AckWatermarks()
    marks.sample(0, 100.0, 0)
    marks.broker_reached(100.0, settle=30.0, now=100.0)
    marks.broker_lost(101.0)
    assert marks.broker_reached(101.0 + MIN_LOSS / 2, settle=30.0, now=100.0 + MIN_LOSS / 2) is None
    marks.sample(0, 106.0, 0)
    assert marks.value(0, committed=0, now=107.0) == 106.0


def test_failures_before_the_first_answer_are_not_a_loss() -> None:
    marks = AckWatermarks()
    assert not marks.broker_lost(100.0)  # starting up: never reached the broker yet
    assert marks.broker_reached(200.0, settle=30.0, now=200.0) is None
    marks.sample(0, 200.0, 0)
    assert marks.value(0, committed=0, now=201.0) == 200.0
