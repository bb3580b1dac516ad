"""Parse and format durations: configuration accepts "90s", "15m", "4h", "2d" or plain seconds."""

from __future__ import annotations

import math
import re

_UNITS: dict[str, float] = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_PATTERN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
ACCEPTED_FORMAT = (
    "a non-negative number of seconds or a number followed by s, m, h or d "
    "(e.g. 90, '90s', '15m', '4h', '2d')"
)


def parse_duration(value: str | int | float) -> float:
    """Return ``value`` as seconds.

    Numbers are seconds; strings are a number with an optional unit suffix
    (s, m, h, d). Raises ValueError naming the accepted format for anything else,
    including negative, NaN and infinite values and booleans.
    """
    if isinstance(value, bool):
        raise ValueError(f"invalid duration {value!r}: expected {ACCEPTED_FORMAT}")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        match = _PATTERN.match(value)
        if match is None:
            raise ValueError(f"invalid duration {value!r}: expected {ACCEPTED_FORMAT}")
        seconds = float(match.group(1)) * _UNITS[match.group(2) or "s"]
    else:
        raise ValueError(f"invalid duration {value!r}: expected {ACCEPTED_FORMAT}")
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"invalid duration {value!r}: expected {ACCEPTED_FORMAT}")
    return seconds


def format_duration(seconds: float) -> str:
    """Short human form for alert messages: "45s", "16m", "1h30m", "2d4h".

    Rounds down to whole seconds; at most two units are shown.
    """
    total = max(0, int(seconds))
    parts: list[str] = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, total = divmod(total, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts[:2]) or "0s"
