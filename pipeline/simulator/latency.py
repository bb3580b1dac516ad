"""Acknowledgement latencies: a log-normal model, kept clear of the alert thresholds.

A run's ground truth must not depend on a race between an acknowledgement and a deadline, so
every latency lies either below ``IN_TIME`` x threshold or above ``LATE`` x threshold (the
guard band in between is never used).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from pipeline.correlation.sla import Thresholds

IN_TIME = 0.6
"""An acknowledgement "in time" arrives before 0.6 x warn_after."""
LATE = 1.5
"""A "late" acknowledgement arrives after 1.5 x the threshold it misses."""
_Z99 = 2.3263478740408408  # standard normal quantile at 0.99
_RESAMPLE = 32


@dataclass(frozen=True, slots=True)
class LatencyModel:
    """Log-normal acknowledgement latency given by its median and 99th percentile (seconds)."""

    median: float
    p99: float

    def __post_init__(self) -> None:
        if not (0 < self.median < self.p99 and math.isfinite(self.p99)):
            raise ValueError("need 0 < latency median < latency p99")

    @property
    def sigma(self) -> float:
        """The log-normal shape parameter."""
        return math.log(self.p99 / self.median) / _Z99

    def sample(self, rng: random.Random) -> float:
        """One latency, unbounded."""
        return self.median * math.exp(self.sigma * rng.gauss(0.0, 1.0))

    def in_time(self, rng: random.Random, thresholds: Thresholds) -> float:
        """A latency below ``IN_TIME x warn_after`` (the tail is redrawn, not clipped)."""
        limit = IN_TIME * thresholds.warn_after
        for _ in range(_RESAMPLE):
            latency = self.sample(rng)
            if latency < limit:
                return latency
        # Only when the model's median is near the threshold: fall back to uniform.
        return rng.uniform(0.0, limit)


def in_guard_band(latency: float, thresholds: Thresholds) -> bool:
    """True if ``latency`` is too close to a threshold for the outcome to be certain."""
    return any(IN_TIME * limit <= latency <= LATE * limit
               for limit in (thresholds.warn_after, thresholds.critical_after))


def clear_of_thresholds(latency: float, thresholds: Thresholds) -> float:
    """``latency`` moved later, out of any guard band (an acknowledgement can only be held
    longer, never answered earlier)."""
    for limit in (thresholds.warn_after, thresholds.critical_after):
        if IN_TIME * limit <= latency <= LATE * limit:
            latency = LATE * limit * 1.02
    return latency


def late(rng: random.Random, thresholds: Thresholds) -> float:
    """A latency clearly past the warning and, when there is room, clearly before critical."""
    low = LATE * thresholds.warn_after * 1.02
    high = min(IN_TIME * thresholds.critical_after, 2.5 * thresholds.warn_after)
    if high > low:
        return rng.uniform(low, high)
    return clear_of_thresholds(rng.uniform(low, 2 * low), thresholds)
