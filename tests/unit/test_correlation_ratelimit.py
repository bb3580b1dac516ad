"""TokenBucket: bounded release of alerts."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.correlation import TokenBucket


def test_starts_full_then_refills_at_rate() -> None:
    bucket = TokenBucket(rate_per_second=10.0, burst=50)
    assert bucket.take(0.0, 80) == 50
    assert bucket.take(0.0, 1) == 0
    assert bucket.take(1.0, 80) == 10
    assert bucket.take(1.05, 80) == 0
    assert bucket.take(1.1, 80) == 1
    assert bucket.take(100.0, 80) == 50  # capped at burst


def test_available_takes_nothing() -> None:
    bucket = TokenBucket(rate_per_second=2.0, burst=10)
    assert bucket.available(0.0) == 10
    assert bucket.take(0.0, 3) == 3
    assert bucket.available(0.0) == 7
    assert bucket.available(0.0) == 7
    assert bucket.available(1.0) == 9
    assert bucket.take(1.0, 100) == 9


def test_clock_going_backwards_adds_nothing() -> None:
    bucket = TokenBucket(rate_per_second=1.0, burst=1)
    assert bucket.take(10.0, 1) == 1
    assert bucket.take(5.0, 1) == 0
    assert bucket.take(10.5, 1) == 0
    assert bucket.take(11.0, 1) == 1


@pytest.mark.parametrize(("rate", "burst"), [(0.0, 1), (-1.0, 1), (float("inf"), 1), (1.0, 0)])
def test_rejects_bad_settings(rate: float, burst: int) -> None:
    with pytest.raises(ValueError):
        TokenBucket(rate, burst)


@given(
    st.floats(0.1, 100),
    st.integers(1, 100),
    st.lists(st.tuples(st.floats(0, 10), st.integers(0, 200)), max_size=40),
)
def test_never_exceeds_burst_plus_rate_times_elapsed(
    rate: float, burst: int, takes: list[tuple[float, int]]
) -> None:
    bucket = TokenBucket(rate, burst)
    now, total = 0.0, 0
    for gap, n in takes:
        now += gap
        granted = bucket.take(now, n)
        assert 0 <= granted <= n
        total += granted
    assert total <= burst + rate * now + 1e-9
