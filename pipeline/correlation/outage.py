"""Region- and source-wide outages: many invoices missing their warning deadline at once.

Platform upgrades and database maintenance stop acknowledgements for a whole region or
source system; per-invoice alerts then come in hundreds. The detector turns that into one
``degraded`` alert per region_code and per source_system, and a ``resolved`` when it ends.

Counts are kept in fixed time buckets (``window_seconds / buckets`` wide) per scope value,
so memory is bounded by (values seen in the window) x (buckets), not by invoices.

Fed by the adapter, with ``at`` = processing time:

- ``observe_due(region, source, unsynced=True, at)`` for each unsynced *warning* alert;
- ``observe_synced_in_time(region, source, at)`` for each invoice synced before its
  warning deadline (``rules.synced_transition(...).in_time``);
- ``observe_synced_late(region, source, at)`` for each invoice synced after it (a burst of
  these means acknowledgements flow again).

Entering: in the window, ``due >= min_due`` and ``unsynced / due >= share_threshold``.
Leaving (with hysteresis): ``unsynced / due < recover_share``, or at least
``recovery_acks`` late syncs within the last ``recovery_seconds``. With no traffic at all
the episode stays open: silence is not evidence of recovery. After a recovery, only buckets
that start after it count towards a new episode: the unsynced invoices of the outage that just
ended are still in the window and must not re-open it.

Severity: ``critical``. A whole region or source system not syncing puts every seller's
filing there at risk, and Alertmanager's "critical inhibits warning" then folds that
region's per-invoice warnings into this one alert.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from .alerts import Alert, AlertKind, Scope, Severity, degraded_alert_id, recovery_alert_id
from .durations import format_duration

_Key = tuple[Scope, str]


@dataclass(slots=True)
class _Bucket:
    due: int = 0
    unsynced: int = 0
    late: int = 0


@dataclass(frozen=True, slots=True)
class _Episode:
    started_at: float
    alert_id: str


@dataclass(frozen=True, slots=True)
class _Totals:
    due: int
    unsynced: int
    recent_late: int


@dataclass(slots=True)
class OutageDetector:
    """Sliding-window share of unsynced deadlines per region_code and source_system."""

    window_seconds: float = 300.0
    min_due: int = 20
    share_threshold: float = 0.5
    recover_share: float = 0.2
    buckets: int = 10
    recovery_seconds: float = 60.0
    recovery_acks: int = 20
    _counts: dict[_Key, dict[int, _Bucket]] = field(default_factory=dict, repr=False)
    _episodes: dict[_Key, _Episode] = field(default_factory=dict, repr=False)
    #: Bucket index of each scope's last recovery; a new episode counts later buckets only.
    _recovered_at: dict[_Key, int] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if not (self.window_seconds > 0 and math.isfinite(self.window_seconds)):
            raise ValueError("window_seconds must be positive")
        if self.buckets < 1 or self.min_due < 1 or self.recovery_acks < 1:
            raise ValueError("buckets, min_due and recovery_acks must be >= 1")
        if not 0 < self.recover_share <= self.share_threshold <= 1:
            raise ValueError("need 0 < recover_share <= share_threshold <= 1")

    @property
    def bucket_seconds(self) -> float:
        """Width of one counting bucket."""
        return self.window_seconds / self.buckets

    def observe_due(self, region_code: str, source_system: str, unsynced: bool, at: float) -> None:
        """An invoice's warning deadline passed: ``unsynced`` if it had no acceptance."""
        for bucket in self._buckets_at(region_code, source_system, at):
            bucket.due += 1
            bucket.unsynced += unsynced

    def observe_synced_in_time(self, region_code: str, source_system: str, at: float) -> None:
        """An invoice was accepted before its warning deadline (counts as due, synced)."""
        self.observe_due(region_code, source_system, False, at)

    def observe_synced_late(self, region_code: str, source_system: str, at: float) -> None:
        """An invoice was accepted after its warning deadline: acks are flowing."""
        for bucket in self._buckets_at(region_code, source_system, at):
            bucket.late += 1

    def evaluate(self, now: float) -> list[Alert]:
        """Open and close episodes as of ``now``; returns degraded / resolved alerts."""
        alerts: list[Alert] = []
        current = self._index(now)
        for key in sorted(self._counts.keys() | self._episodes.keys() | self._recovered_at.keys()):
            episode = self._episodes.get(key)
            after = self._recovered_at.get(key) if episode is None else None
            if after is not None and after < current - self.buckets:
                del self._recovered_at[key]  # the recovery has left the window
                after = None
            totals = self._totals(key, current, after)
            share = totals.unsynced / totals.due if totals.due else 0.0
            if episode is None:
                if totals.due >= self.min_due and share >= self.share_threshold:
                    started = current * self.bucket_seconds
                    episode = _Episode(started, degraded_alert_id(key[0], key[1], started))
                    self._episodes[key] = episode
                    alerts.append(self._alert(key, episode.alert_id, "degraded", now, totals))
            elif (totals.due and share < self.recover_share) or (
                totals.recent_late >= self.recovery_acks
            ):
                del self._episodes[key]
                self._recovered_at[key] = current
                recovery_id = recovery_alert_id(episode.alert_id)
                alerts.append(
                    self._alert(key, recovery_id, "resolved", now, totals, episode.alert_id)
                )
        return alerts

    def active(self) -> list[tuple[Scope, str]]:
        """(scope, value) pairs currently degraded, for the degraded gauge."""
        return sorted(self._episodes)

    def _index(self, at: float) -> int:
        return math.floor(at / self.bucket_seconds)

    def _buckets_at(self, region_code: str, source_system: str, at: float) -> list[_Bucket]:
        index = self._index(at)
        keys: tuple[_Key, _Key] = (("region_code", region_code), ("source_system", source_system))
        return [self._counts.setdefault(key, {}).setdefault(index, _Bucket()) for key in keys]

    def _totals(self, key: _Key, current: int, after: int | None = None) -> _Totals:
        buckets = self._counts.get(key, {})
        oldest = current - self.buckets + 1
        for index in [i for i in buckets if i < oldest]:
            del buckets[index]
        if not buckets:
            self._counts.pop(key, None)
        recent = current - max(1, math.ceil(self.recovery_seconds / self.bucket_seconds)) + 1
        first = oldest if after is None else max(oldest, after + 1)
        live = [(i, b) for i, b in buckets.items() if first <= i <= current]
        return _Totals(
            due=sum(b.due for _, b in live),
            unsynced=sum(b.unsynced for _, b in live),
            recent_late=sum(b.late for i, b in live if i >= recent),
        )

    def _alert(
        self,
        key: _Key,
        alert_id: str,
        kind: AlertKind,
        now: float,
        totals: _Totals,
        resolves: str | None = None,
    ) -> Alert:
        scope, value = key
        severity: Severity = "critical" if kind == "degraded" else "info"
        window = format_duration(self.window_seconds)
        counts = f"{totals.unsynced} of {totals.due} invoices due in the last {window} unsynced"
        if kind == "degraded":
            message = f"{scope} {value} degraded: {counts}"
        else:
            message = f"{scope} {value} recovered: {counts}, {totals.recent_late} late acks"
        return Alert(
            alert_id=alert_id,
            kind=kind,
            severity=severity,
            invoice_id="",
            region_code=value if scope == "region_code" else None,
            source_system=value if scope == "source_system" else None,
            seller_tax_id=None,
            issued_at=None,
            deadline_at=None,
            detected_at=now,
            age_seconds=None,
            reason_code=None,
            reason=None,
            latency_seconds=None,
            resolved_alert_ids=() if resolves is None else (resolves,),
            scope=scope,
            unsynced_count=totals.unsynced,
            due_count=totals.due,
            window_seconds=self.window_seconds,
            message=message,
        )
