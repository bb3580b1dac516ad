"""A token bucket that bounds how fast per-invoice alerts are released after a recovery."""

from __future__ import annotations

import math


class TokenBucket:
    """``rate_per_second`` tokens accrue up to ``burst``; the clock is passed in.

    Starts full. A clock that goes backwards adds nothing (and is not an error).
    """

    __slots__ = ("_last", "_tokens", "burst", "rate_per_second")

    def __init__(self, rate_per_second: float, burst: int) -> None:
        if not (rate_per_second > 0 and math.isfinite(rate_per_second)):
            raise ValueError(f"rate_per_second must be a positive number, got {rate_per_second}")
        if burst < 1:
            raise ValueError(f"burst must be >= 1, got {burst}")
        self.rate_per_second = rate_per_second
        self.burst = burst
        self._tokens = float(burst)
        self._last: float | None = None

    def available(self, now: float) -> int:
        """Whole tokens that :meth:`take` would grant at ``now`` (takes none).

        Lets the caller size a batch (``pop_due(until, bucket.available(now))``) and then
        ``take`` only what it actually used, so idle ticks do not waste the burst.
        """
        self._refill(now)
        return int(self._tokens)

    def take(self, now: float, n: int) -> int:
        """Take up to ``n`` whole tokens; return how many were granted (0..n)."""
        self._refill(now)
        granted = max(0, min(n, int(self._tokens)))
        self._tokens -= granted
        return granted

    def _refill(self, now: float) -> None:
        if self._last is not None and now > self._last:
            self._tokens = min(
                float(self.burst), self._tokens + (now - self._last) * self.rate_per_second
            )
        if self._last is None or now > self._last:
            self._last = now
