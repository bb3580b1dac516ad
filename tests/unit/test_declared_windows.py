"""Windows declared through ``POST /maintenance``, merged with the file's on every worker."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
import pytest

from pipeline.contracts.maintenance import MaintenanceDeclaration
from pipeline.correlation.maintenance import MaintenanceCalendar, MaintenanceWindow
from pipeline.worker.declared import DeclaredWindows
from pipeline.worker.maintenance_api import parse_window

T0 = datetime(2026, 12, 5, 22, tzinfo=UTC)
FILE = MaintenanceCalendar((MaintenanceWindow("leqi", T0.timestamp(), T0.timestamp() + 3600),
                            MaintenanceWindow("erp-db", T0.timestamp(), T0.timestamp() + 60,
                                              source_system="erp-a")), grace=30.0)


def declared(window_id: str, hours: float, **extra: str) -> bytes:
    return MaintenanceDeclaration(window_id=window_id, start=T0, end=T0 + timedelta(hours=hours),
                                  actor="ops", declared_at=T0, **extra).to_wire()  # type: ignore[arg-type]


def test_declarations_join_replace_and_leave_the_file_windows() -> None:
    seen: list[MaintenanceCalendar | None] = []
    windows = DeclaredWindows(FILE, seen.append)
    windows.apply(b"leqi", declared("leqi", 2))  # replaces the file's window of that id
    windows.apply(b"upgrade", declared("upgrade", 1, region_code="110000"))
    calendar = windows.calendar()
    assert calendar is not None and calendar.grace == 30.0
    ends = {w.window_id: w.end - w.start for w in calendar.windows}
    assert ends == {"leqi": 7200.0, "erp-db": 60.0, "upgrade": 3600.0}
    assert seen[-1] == calendar and len(seen) == 2
    windows.apply(b"upgrade", None)  # a tombstone withdraws it
    assert {w.window_id for w in seen[-1].windows} == {"leqi", "erp-db"}  # type: ignore[union-attr]
    windows.apply(b"junk", b"{not json")  # logged and skipped
    windows.apply(b"gone", None)  # nothing to withdraw: no change announced
    assert len(seen) == 3


def test_without_a_file_declarations_get_the_default_grace() -> None:
    windows = DeclaredWindows(None, lambda calendar: None)
    assert windows.calendar() is None
    windows.apply(b"w", declared("w", 1))
    calendar = windows.calendar()
    assert calendar is not None and calendar.grace == 300.0


def test_a_request_body_is_a_window_of_the_file_format() -> None:
    future = datetime.now(UTC) + timedelta(days=1)
    body = {"id": "leqi-up", "start": future.isoformat(),
            "end": (future + timedelta(hours=2)).isoformat(), "region_code": 110000}
    spec = parse_window(orjson.dumps(body))
    assert spec.window().region_code == "110000"
    for bad, field in ((dict(body, end=body["start"]), "end must be after start"),
                       (dict(body, id="a b"), "id"), (dict(body, colour="red"), "colour"),
                       (dict(body, start="2026-12-05T22:00:00"), "start"),
                       (dict(body, start="2020-01-01T00:00:00+08:00",
                             end="2020-01-02T00:00:00+08:00"), "already over")):
        with pytest.raises(ValueError, match=field):
            parse_window(orjson.dumps(bad))
