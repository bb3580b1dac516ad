"""The declared maintenance windows file (``INVOICE_SYNC_MAINTENANCE_WINDOWS``), YAML or JSON::

    grace: 10m                      # optional, default 5m: wait this long after a window ends
    windows:
      - id: leqi-upgrade-2026-12-05
        start: "2026-12-05T22:00:00+08:00"
        end: "2026-12-06T02:00:00+08:00"
        reason: 乐企 platform upgrade  # optional
      - id: erp-beijing-db-2026-12-07
        start: "2026-12-07T01:00:00+08:00"
        end: "2026-12-07T03:00:00+08:00"
        source_system: erp-beijing     # optional scope: region_code, source_system or both;
                                       # neither = every invoice (the platform)

Times must carry an offset (Beijing is +08:00). Validated by a pydantic model; errors name the
file, the window and the field.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from pipeline.contracts.identifiers import RegionCode, SourceSystem
from pipeline.contracts.maintenance import WINDOW_ID_PATTERN
from pipeline.contracts.timestamps import OffsetDateTime
from pipeline.correlation.durations import parse_duration
from pipeline.correlation.maintenance import MaintenanceCalendar, MaintenanceWindow

DEFAULT_GRACE = 300.0


def _region_text(value: Any) -> Any:
    # YAML reads an unquoted 110000 as an int; region codes are digits, so accept it.
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


class WindowSpec(BaseModel):
    """One declared window."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    window_id: Annotated[str, Field(alias="id", min_length=1, max_length=128,
                                    pattern=WINDOW_ID_PATTERN)]
    start: OffsetDateTime
    end: OffsetDateTime
    region_code: Annotated[RegionCode, BeforeValidator(_region_text)] | None = None
    source_system: SourceSystem | None = None
    reason: Annotated[str, Field(max_length=300)] = ""

    @model_validator(mode="after")
    def _ordered(self) -> WindowSpec:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self

    def window(self) -> MaintenanceWindow:
        """The core's window."""
        return MaintenanceWindow(self.window_id, self.start.timestamp(), self.end.timestamp(),
                                 self.region_code, self.source_system, self.reason)


class MaintenanceFile(BaseModel):
    """The whole file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    grace: Annotated[float, BeforeValidator(parse_duration)] = DEFAULT_GRACE
    windows: list[WindowSpec] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique(self) -> MaintenanceFile:
        ids = [spec.window_id for spec in self.windows]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"duplicate window ids {duplicates}")
        return self

    def calendar(self) -> MaintenanceCalendar:
        """The core's calendar."""
        return MaintenanceCalendar(tuple(spec.window() for spec in self.windows), self.grace)


class MaintenanceFileError(ValueError):
    """The maintenance windows file cannot be used; the message names file, window and field."""


def load_maintenance(path: str | Path) -> MaintenanceCalendar:
    """Read ``path`` (``.json`` as JSON, anything else as YAML) into a calendar."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise MaintenanceFileError(f"{path}: cannot read maintenance windows: {exc.strerror}"
                                   ) from exc
    try:
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        kind = "JSON" if path.suffix == ".json" else "YAML"
        raise MaintenanceFileError(f"{path}: not valid {kind}: {exc}") from exc
    try:
        return MaintenanceFile.model_validate(data or {}).calendar()
    except ValidationError as exc:
        raise MaintenanceFileError(f"{path}: {_describe(exc)}") from None


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors(include_url=False, include_input=False):
        loc = ".".join(str(p) for p in err["loc"])
        parts.append(f"{loc}: {err['msg'].removeprefix('Value error, ')}" if loc else err["msg"])
    return "; ".join(parts)
