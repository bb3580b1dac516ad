"""Declared maintenance windows: planned platform upgrades and database maintenance.

The tax platform announces them; operators declare them (a file, ``INVOICE_SYNC_MAINTENANCE_
WINDOWS``, see :mod:`pipeline.maintenance_file`). A deadline that falls inside a window covering
its invoice is deferred to the window's end plus a grace, so a planned upgrade raises one
``maintenance`` alert at its start and one at its end instead of a storm of per-invoice warnings;
an invoice still unacknowledged after that names the window as its probable cause.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

WindowScope = Literal["platform", "region_code", "source_system"]

#: Windows a deferred deadline may be pushed through in a row (back-to-back windows).
MAX_CHAINED_WINDOWS = 8


@dataclass(frozen=True, slots=True)
class MaintenanceWindow:
    """``[start, end)`` in epoch seconds, for every invoice (neither code set), one region,
    one source system, or one source system in one region."""

    window_id: str
    start: float
    end: float
    region_code: str | None = None
    source_system: str | None = None
    reason: str = ""

    def __post_init__(self) -> None:
        if not (math.isfinite(self.start) and math.isfinite(self.end) and self.end > self.start):
            raise ValueError(f"maintenance window {self.window_id!r}: end must be after start")

    @property
    def scope(self) -> WindowScope:
        """What the window covers, for its alerts (a region+source window reports the region)."""
        if self.region_code is not None:
            return "region_code"
        if self.source_system is not None:
            return "source_system"
        return "platform"

    def applies_to(self, region_code: str | None, source_system: str | None) -> bool:
        """The window covers invoices of this region and source system."""
        return ((self.region_code is None or self.region_code == region_code)
                and (self.source_system is None or self.source_system == source_system))

    def contains(self, at: float) -> bool:
        """``at`` lies inside the window."""
        return self.start <= at < self.end


@dataclass(frozen=True, slots=True)
class MaintenanceCalendar:
    """The declared windows and the grace added after a window before deadlines fire."""

    windows: tuple[MaintenanceWindow, ...] = ()
    grace: float = 300.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.grace) and self.grace >= 0):
            raise ValueError("grace must be a non-negative number of seconds")
        ids = [window.window_id for window in self.windows]
        if len(set(ids)) != len(ids):
            raise ValueError("maintenance window ids must be unique")

    def with_window(self, window: MaintenanceWindow) -> MaintenanceCalendar:
        """The calendar with ``window`` added (or replacing the one with its id)."""
        kept = tuple(w for w in self.windows if w.window_id != window.window_id)
        return MaintenanceCalendar((*kept, window), self.grace)

    def covering(self, region_code: str | None, source_system: str | None,
                 at: float) -> MaintenanceWindow | None:
        """The window (latest ending) covering this invoice at ``at``, if any."""
        found = [w for w in self.windows
                 if w.contains(at) and w.applies_to(region_code, source_system)]
        return max(found, key=lambda w: w.end, default=None)

    def defer(self, region_code: str | None, source_system: str | None,
              deadline: float) -> tuple[float, MaintenanceWindow | None]:
        """``deadline`` moved past every window covering it (end + grace, chained through
        back-to-back windows), and the last window it was moved past (None: not deferred)."""
        moved: MaintenanceWindow | None = None
        for _ in range(MAX_CHAINED_WINDOWS):
            window = self.covering(region_code, source_system, deadline)
            if window is None:
                break
            moved, deadline = window, window.end + self.grace
        return deadline, moved

    def deferred_by(self, region_code: str | None, source_system: str | None,
                    deadline: float) -> MaintenanceWindow | None:
        """The window a deferred ``deadline`` was moved past: the latest one covering the
        invoice that ended at most ``grace`` before it."""
        found = [w for w in self.windows
                 if w.applies_to(region_code, source_system)
                 and w.end <= deadline <= w.end + self.grace + 1e-6]
        return max(found, key=lambda w: w.end, default=None)

    def overlapping(self, region_code: str | None, source_system: str | None, since: float,
                    until: float) -> MaintenanceWindow | None:
        """The latest-ending window covering this invoice that was open at some time in
        ``[since, until]`` (an invoice that waited for its answer through it)."""
        found = [w for w in self.windows if w.applies_to(region_code, source_system)
                 and w.start <= until and w.end > since]
        return max(found, key=lambda w: w.end, default=None)

    def announced(self, now: float, linger: float) -> list[tuple[MaintenanceWindow, str]]:
        """What is announced at ``now``: ``started`` for windows that opened, ``ended`` for those
        that closed, both until ``linger`` after the end (so a worker that starts or takes over
        late still announces them; the alert ids make repeats recognisable)."""
        phases: list[tuple[MaintenanceWindow, str]] = []
        for window in sorted(self.windows, key=lambda w: (w.start, w.window_id)):
            if window.end + linger <= now:
                continue
            if window.start <= now:
                phases.append((window, "started"))
            if window.end <= now:
                phases.append((window, "ended"))
        return phases

    def transitions(self, after: float, until: float
                    ) -> Iterable[tuple[MaintenanceWindow, Literal["started", "ended"]]]:
        """Windows that started or ended in ``(after, until]``, in time order."""
        events = [(w.start, 0, w, "started") for w in self.windows if after < w.start <= until]
        events += [(w.end, 1, w, "ended") for w in self.windows if after < w.end <= until]
        for _, _, window, phase in sorted(events, key=lambda e: (e[0], e[1], e[2].window_id)):
            yield window, phase  # type: ignore[misc]
