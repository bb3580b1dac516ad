"""Reconciliation summary: counts and latency percentiles of invoices issued in a period.

Each worker summarises the records it owns into a :class:`Summary`; summaries merge by adding
(counts, and the latency sketch's buckets), so the group's answer is exact in its counts and
within 1% in its percentiles whatever the number of workers.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from pipeline.correlation.state import Flag, InvoiceState

from .params import SummaryQuery
from .views import iso, sync_status

#: Relative accuracy of the latency percentiles (log-spaced buckets, as in DDSketch).
RELATIVE_ACCURACY = 0.01
_GAMMA = (1 + RELATIVE_ACCURACY) / (1 - RELATIVE_ACCURACY)
_LOG_GAMMA = math.log(_GAMMA)
#: Latencies below this (seconds) share one bucket reported as 0.
_MIN_LATENCY = 0.001
PERCENTILES = (0.5, 0.9, 0.95, 0.99)
STATUSES = ("synced", "pending", "rejected", "closed")


@dataclass(slots=True)
class LatencySketch:
    """Counts of latencies in log-spaced buckets; quantiles within RELATIVE_ACCURACY."""

    buckets: Counter[int] = field(default_factory=Counter)
    zero: int = 0
    count: int = 0
    maximum: float = 0.0

    def add(self, seconds: float) -> None:
        self.count += 1
        self.maximum = max(self.maximum, seconds)
        if seconds < _MIN_LATENCY:
            self.zero += 1
        else:
            self.buckets[math.ceil(math.log(seconds) / _LOG_GAMMA)] += 1

    def merge(self, other: LatencySketch) -> None:
        self.buckets.update(other.buckets)
        self.zero += other.zero
        self.count += other.count
        self.maximum = max(self.maximum, other.maximum)

    def quantile(self, q: float) -> float | None:
        """The q-quantile (0..1), or None without data."""
        if self.count == 0:
            return None
        rank = q * (self.count - 1)
        seen = self.zero
        if rank < seen:
            return 0.0
        for index in sorted(self.buckets):
            seen += self.buckets[index]
            if rank < seen:
                return min(self.maximum, 2 * _GAMMA ** index / (_GAMMA + 1))
        return self.maximum

    def to_json(self) -> dict[str, Any]:
        return {"buckets": {str(k): v for k, v in self.buckets.items()}, "zero": self.zero,
                "count": self.count, "max": self.maximum}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LatencySketch:
        return cls(Counter({int(k): int(v) for k, v in data["buckets"].items()}),
                   int(data["zero"]), int(data["count"]), float(data["max"]))


def _counts() -> Counter[str]:
    return Counter()


@dataclass(slots=True)
class Summary:
    """One worker's (or the merged group's) reconciliation of a period."""

    totals: Counter[str] = field(default_factory=_counts)
    by_region: dict[str, Counter[str]] = field(default_factory=dict)
    latency: LatencySketch = field(default_factory=LatencySketch)

    def add(self, state: InvoiceState, query: SummaryQuery) -> None:
        """Count one record if it is an invoice issued in the period and matches the filters."""
        if not state.is_issued or state.issued_at is None:
            if query.region_code is None and query.source_system is None \
                    and _in_period(state.held_since, query):
                self.totals["acknowledged_not_issued"] += 1
            return
        if query.region_code is not None and state.region_code != query.region_code:
            return
        if query.source_system is not None and state.source_system != query.source_system:
            return
        if not _in_period(state.issued_at, query):
            return
        status = sync_status(state)
        region = self.by_region.setdefault(state.region_code or "", Counter())
        for counts in (self.totals, region):
            counts["issued"] += 1
            counts[status] += 1
        if state.flags & Flag.RED:
            self.totals["red_letter"] += 1
        if state.flags & Flag.WARNED:
            self.totals["alerted_warning"] += 1
        if state.flags & Flag.ESCALATED:
            self.totals["alerted_critical"] += 1
        if status == "synced" and state.acknowledged_at is not None:
            self.latency.add(max(0.0, state.acknowledged_at - state.issued_at))

    def merge(self, other: Summary) -> None:
        self.totals.update(other.totals)
        for region, counts in other.by_region.items():
            self.by_region.setdefault(region, Counter()).update(counts)
        self.latency.merge(other.latency)

    def to_json(self) -> dict[str, Any]:
        """The wire form between workers (exact, mergeable)."""
        return {"totals": dict(self.totals),
                "by_region": {r: dict(c) for r, c in self.by_region.items()},
                "latency": self.latency.to_json()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Summary:
        return cls(Counter(data["totals"]),
                   {r: Counter(c) for r, c in data["by_region"].items()},
                   LatencySketch.from_json(data["latency"]))

    def report(self, query: SummaryQuery) -> dict[str, Any]:
        """The answer of GET /summary."""
        t = self.totals
        latency: dict[str, Any] = {"count": self.latency.count,
                                   "max": self.latency.maximum if self.latency.count else None}
        for q in PERCENTILES:
            value = self.latency.quantile(q)
            latency[f"p{round(q * 100)}"] = None if value is None else round(value, 3)
        return {
            "period": {"since": iso(query.since), "until": iso(query.until)},
            "region_code": query.region_code,
            "source_system": query.source_system,
            "issued": t["issued"],
            "synced": t["synced"],
            "pending": t["pending"],
            "rejected": t["rejected"],
            "closed": t["closed"],
            "acknowledged_not_issued": t["acknowledged_not_issued"],
            "red_letter": t["red_letter"],
            "alerted": {"warning": t["alerted_warning"], "critical": t["alerted_critical"]},
            "latency_seconds": latency,
            "by_region": {
                region: {"issued": c["issued"], **{s: c[s] for s in STATUSES}}
                for region, c in sorted(self.by_region.items())
            },
        }


def _in_period(at: float | None, query: SummaryQuery) -> bool:
    if at is None:
        return False
    if query.since is not None and at < query.since:
        return False
    return query.until is None or at < query.until
