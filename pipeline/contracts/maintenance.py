"""``invoice.sync.maintenance``: an operator declared a maintenance window (``POST /maintenance``;
topic ``invoice-sync.maintenance``, keyed by window id, compacted).

The audit record and the declaration at once: every worker reads the topic whole and adds the
window to those of ``INVOICE_SYNC_MAINTENANCE_WINDOWS`` (a declaration replaces a file window of
the same id; declaring an id again replaces the earlier declaration, e.g. to move its end).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from pipeline.contracts.base import WireEvent
from pipeline.contracts.identifiers import RegionCode, SourceSystem
from pipeline.contracts.timestamps import OffsetDateTime
from pipeline.correlation.maintenance import MaintenanceWindow

WINDOW_ID_PATTERN = r"^[A-Za-z0-9._:\-]+$"


class MaintenanceDeclaration(WireEvent):
    """Who (``actor``: the API token's name) declared which window (``[start, end)``, for every
    invoice, one region, one source system or both), when (``declared_at``) and why."""

    schema_version: int = Field(default=1, ge=1)
    event_type: Literal["invoice.sync.maintenance"] = "invoice.sync.maintenance"
    window_id: Annotated[str, Field(min_length=1, max_length=128, pattern=WINDOW_ID_PATTERN)]
    start: OffsetDateTime
    end: OffsetDateTime
    region_code: RegionCode | None = None
    source_system: SourceSystem | None = None
    reason: Annotated[str, Field(max_length=300)] = ""
    actor: Annotated[str, Field(min_length=1, max_length=64)]
    declared_at: OffsetDateTime

    @model_validator(mode="after")
    def _ordered(self) -> MaintenanceDeclaration:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self

    def window(self) -> MaintenanceWindow:
        """The core's window."""
        return MaintenanceWindow(self.window_id, self.start.timestamp(), self.end.timestamp(),
                                 self.region_code, self.source_system, self.reason)
