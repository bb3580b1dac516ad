"""The maintenance calendar a worker applies: the windows file plus the declared windows.

``POST /maintenance`` (maintenance_api.py) records an ``invoice.sync.maintenance`` declaration on
``INVOICE_SYNC_TOPIC_MAINTENANCE``, keyed by window id. A declaration must reach every worker
(whichever owns an invoice whose deadline falls in the window, and the owner of partition 0,
which announces it), so every worker reads that compacted topic whole (follow.py) into this and
hands the merged calendar to the correlator and the scope ledgers on every change. A declared
window replaces a file window of the same id; a later declaration of an id replaces the earlier.
"""

from __future__ import annotations

from collections.abc import Callable

from pydantic import ValidationError

from pipeline.contracts.maintenance import MaintenanceDeclaration
from pipeline.correlation.maintenance import MaintenanceCalendar, MaintenanceWindow
from pipeline.logs import get_logger
from pipeline.maintenance_file import DEFAULT_GRACE

log = get_logger(__name__)


class DeclaredWindows:
    """The file's calendar and the declarations read so far, merged."""

    def __init__(self, from_file: MaintenanceCalendar | None,
                 on_change: Callable[[MaintenanceCalendar | None], None]) -> None:
        self.from_file = from_file
        self.on_change = on_change
        self.declared: dict[str, MaintenanceDeclaration] = {}

    def apply(self, key: bytes | None, value: bytes | None) -> None:
        """One record of the maintenance topic; an unreadable one is logged and skipped (it
        was validated by the API that wrote it: only a foreign producer writes those)."""
        if value is None:  # a tombstone withdraws the declaration of that id
            window_id = None if key is None else key.decode(errors="replace")
            if window_id in self.declared:
                del self.declared[window_id]
                self.on_change(self.calendar())
            return
        try:
            declaration = MaintenanceDeclaration.model_validate_json(value)
        except ValidationError as exc:
            log.error("maintenance_declaration_unreadable", key=key, error=str(exc)[:300])
            return
        self.declared[declaration.window_id] = declaration
        log.info("maintenance_declared", window_id=declaration.window_id,
                 start=declaration.start.isoformat(), end=declaration.end.isoformat(),
                 actor=declaration.actor)
        self.on_change(self.calendar())

    def calendar(self) -> MaintenanceCalendar | None:
        """The windows in force (None: none at all, as without a file)."""
        declared = {d.window_id: d.window() for d in self.declared.values()}
        if self.from_file is None and not declared:
            return None
        grace = DEFAULT_GRACE if self.from_file is None else self.from_file.grace
        kept: tuple[MaintenanceWindow, ...] = () if self.from_file is None else tuple(
            w for w in self.from_file.windows if w.window_id not in declared)
        return MaintenanceCalendar((*kept, *declared.values()), grace)
