"""Duration parsing (configuration) and formatting (alert messages)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.correlation import format_duration, parse_duration


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("90s", 90.0),
        ("15m", 900.0),
        ("4h", 14400.0),
        ("2d", 172800.0),
        ("1.5h", 5400.0),
        (" 30 m ", 1800.0),
        ("45", 45.0),
        ("0", 0.0),
        (90, 90.0),
        (1.5, 1.5),
        (0, 0.0),
    ],
)
def test_parse_accepts(value: str | int | float, seconds: float) -> None:
    assert parse_duration(value) == seconds


@pytest.mark.parametrize(
    "value",
    ["", "m", "15x", "-5m", "1h30m", "15 minutes", "1e3s", "nan", "inf", -1, float("nan"),
     float("inf"), True, None, [15]],
)  # fmt: skip
def test_parse_rejects_with_the_accepted_format(value: object) -> None:
    with pytest.raises(ValueError, match=r"invalid duration .*expected .*'90s', '15m', '4h', '2d'"):
        parse_duration(value)  # type: ignore[arg-type]


@given(st.integers(0, 10**7), st.sampled_from([("s", 1), ("m", 60), ("h", 3600), ("d", 86400)]))
def test_parse_integer_units(count: int, unit: tuple[str, int]) -> None:
    assert parse_duration(f"{count}{unit[0]}") == count * unit[1]


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0s"), (45, "45s"), (960, "16m"), (970, "16m10s"), (3600, "1h"), (5400, "1h30m"),
     (90061, "1d1h"), (-5, "0s"), (59.9, "59s")],
)  # fmt: skip
def test_format(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text
