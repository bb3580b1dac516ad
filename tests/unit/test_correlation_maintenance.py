"""Declared maintenance windows: deferral of deadlines, the maintenance alerts, the file."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import orjson
import pytest

from pipeline.correlation.causes import Cause, Evidence, invoice_cause
from pipeline.correlation.facts import Ack
from pipeline.correlation.maintenance import MaintenanceCalendar, MaintenanceWindow
from pipeline.correlation.maintenance_alerts import maintenance_alerts
from pipeline.correlation.rules import next_deadline, on_ack, on_due
from pipeline.correlation.state import Flag, InvoiceState
from pipeline.maintenance_file import MaintenanceFileError, load_maintenance
from pipeline.worker.wire import alert_to_json

T0 = 1_764_400_000.0
GRACE = 120.0
ALL = MaintenanceWindow("upgrade", T0 + 1000, T0 + 4000, reason="乐企 upgrade")
BEIJING = MaintenanceWindow("bj-db", T0 + 1000, T0 + 2000, region_code="110000")
ERP = MaintenanceWindow("erp-db", T0 + 1000, T0 + 2000, source_system="erp-beijing")
BOTH = MaintenanceWindow("bj-erp", T0 + 1000, T0 + 2000, "110000", "erp-beijing")
CALENDAR = MaintenanceCalendar((ALL,), GRACE)


def pending(issued_at: float, region: str = "110000", source: str = "erp-beijing",
            warn: float = 900.0, critical: float = 7200.0) -> InvoiceState:
    return InvoiceState(f"2611100000{int(issued_at):010d}"[-20:], 0, issued_at=issued_at,
                        region_code=region, source_system=source, warn_at=issued_at + warn,
                        critical_at=issued_at + critical)


@pytest.mark.parametrize(("window", "region", "source", "covered"), [
    (ALL, "310000", "sap-s4hana", True),
    (BEIJING, "110000", "sap-s4hana", True),
    (BEIJING, "310000", "erp-beijing", False),
    (ERP, "310000", "erp-beijing", True),
    (ERP, "110000", "sap-s4hana", False),
    (BOTH, "110000", "erp-beijing", True),
    (BOTH, "110000", "sap-s4hana", False),
])
def test_scope(window: MaintenanceWindow, region: str, source: str, covered: bool) -> None:
    calendar = MaintenanceCalendar((window,), GRACE)
    assert (calendar.covering(region, source, T0 + 1500) is window) is covered


@pytest.mark.parametrize(("deadline", "expected", "deferred"), [
    (T0 + 999, T0 + 999, False),
    (T0 + 1000, T0 + 4000 + GRACE, True),  # start is inside
    (T0 + 3999, T0 + 4000 + GRACE, True),
    (T0 + 4000, T0 + 4000, False),  # end is outside
])
def test_defer(deadline: float, expected: float, deferred: bool) -> None:
    moved, window = CALENDAR.defer("110000", "erp-a", deadline)
    assert moved == expected and (window is ALL) is deferred


def test_back_to_back_windows_are_chained() -> None:
    second = MaintenanceWindow("second", T0 + 4000, T0 + 5000)
    calendar = MaintenanceCalendar((ALL, second), GRACE)
    assert calendar.defer("110000", "x", T0 + 1500) == (T0 + 5000 + GRACE, second)


def test_overlapping_finds_the_window_an_invoice_waited_through() -> None:
    calendar = MaintenanceCalendar((ALL, BEIJING), GRACE)
    assert calendar.overlapping("110000", "x", T0 + 500, T0 + 1400) is ALL
    assert calendar.overlapping("310000", "x", T0 + 4000, T0 + 4900) is None  # ended at start
    assert calendar.overlapping("110000", "x", T0, T0 + 999) is None  # before both


def test_calendar_validation() -> None:
    with pytest.raises(ValueError, match="end must be after start"):
        MaintenanceWindow("w", T0, T0)
    with pytest.raises(ValueError, match="unique"):
        MaintenanceCalendar((ALL, ALL))
    with pytest.raises(ValueError, match="grace"):
        MaintenanceCalendar((), -1.0)
    assert CALENDAR.with_window(replace(ALL, end=T0 + 9000)).windows[0].end == T0 + 9000


def explain(state: InvoiceState, window: MaintenanceWindow | None) -> Cause:
    return invoice_cause(state, Evidence(submissions_tracked=False, maintenance=window),
                         now=T0 + 9999)


def test_a_deadline_inside_the_window_waits_for_its_end_plus_grace() -> None:
    state = pending(T0 + 500)  # warns at T0 + 1400, inside the window
    held, alerts = on_due(state, now=T0 + 1400, watermark=T0 + 1400, calendar=CALENDAR,
                          explain=explain)
    assert alerts == []
    assert held.flags & Flag.DEFERRED and held.warn_at == T0 + 4000 + GRACE
    assert next_deadline(held) == T0 + 4000 + GRACE
    assert held.critical_at == state.critical_at  # outside the window: unchanged
    fired, alerts = on_due(held, now=T0 + 4200, watermark=T0 + 4200, calendar=CALENDAR,
                           explain=explain)
    assert [(a.kind, a.severity) for a in alerts] == [("unsynced", "warning")]
    cause = alerts[0].probable_cause
    assert cause is not None and cause.code == "platform_maintenance"
    assert dict(cause.evidence)["window_id"] == "upgrade"
    assert "deferred past maintenance" in alerts[0].message
    assert alerts[0].deadline_at == T0 + 4000 + GRACE
    assert fired.flags & Flag.WARNED


def test_acknowledged_during_the_window_never_alerts() -> None:
    state = pending(T0 + 500)
    held, _ = on_due(state, now=T0 + 1400, watermark=T0 + 1400, calendar=CALENDAR)
    ack = Ack(state.invoice_id, "ack-1", "accepted", T0 + 4050)
    synced, _ = on_ack(held, ack, now=T0 + 4050, partition=0)
    assert on_due(synced, now=T0 + 4200, watermark=T0 + 4200, calendar=CALENDAR)[1] == []


def test_no_storm_one_start_and_one_end_alert_for_a_planned_upgrade() -> None:
    invoices = [pending(T0 + 200 + i * 10) for i in range(270)]  # warn inside the window
    alerts = []
    for now in range(int(T0) + 1000, int(T0) + 4000, 60):
        alerts += maintenance_alerts(CALENDAR, now - 60, now, now)
        for i, state in enumerate(invoices):
            invoices[i], fired = on_due(state, now=now, watermark=now, calendar=CALENDAR)
            alerts += fired
    alerts += maintenance_alerts(CALENDAR, T0 + 3960, T0 + 4020, T0 + 4020)
    assert [(a.kind, a.severity) for a in alerts] == [("maintenance", "info")] * 2
    started, ended = alerts
    assert ended.resolved_alert_ids == (started.alert_id,)
    assert all(state.warn_at == T0 + 4000 + GRACE for state in invoices)


def test_critical_is_kept_no_earlier_than_the_deferred_warning() -> None:
    state = pending(T0 + 500, critical=4000.0)  # warn in, critical at T0 + 4500 (after end)
    held, _ = on_due(state, now=T0 + 1400, watermark=T0 + 1400,
                     calendar=MaintenanceCalendar((ALL,), 1000.0))
    assert held.warn_at == held.critical_at == T0 + 5000


def test_a_window_of_another_region_defers_nothing() -> None:
    state = pending(T0 + 500, region="310000", source="sap-s4hana")
    calendar = MaintenanceCalendar((BEIJING,), GRACE)
    _, alerts = on_due(state, now=T0 + 1400, watermark=T0 + 1400, calendar=calendar)
    assert [a.kind for a in alerts] == ["unsynced"]


def test_the_watermark_still_gates_a_deferred_deadline() -> None:
    held, _ = on_due(pending(T0 + 500), now=T0 + 1400, watermark=T0 + 1400, calendar=CALENDAR)
    assert on_due(held, now=T0 + 4200, watermark=T0 + 4100, calendar=CALENDAR)[1] == []


def test_maintenance_alerts_are_valid_and_deterministic() -> None:
    calendar = MaintenanceCalendar((ALL, BEIJING, ERP), GRACE)
    first = maintenance_alerts(calendar, T0, T0 + 5000, T0 + 5000)
    again = maintenance_alerts(calendar, T0, T0 + 5000, T0 + 5001)
    assert [a.alert_id for a in first] == [a.alert_id for a in again]
    assert len({a.alert_id for a in first}) == 6
    # Same start: in window id order (bj-db, erp-db, upgrade).
    assert [a.scope for a in first[:3]] == ["region_code", "source_system", "platform"]
    for alert in first:
        document = orjson.loads(alert_to_json(alert))
        assert document["kind"] == "maintenance"
        assert document["probable_cause"]["code"] == "platform_maintenance"
    assert maintenance_alerts(calendar, T0 + 1000, T0 + 1999, T0 + 1999) == []


def write(tmp_path: Path, text: str, name: str = "windows.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_file_is_loaded(tmp_path: Path) -> None:
    calendar = load_maintenance(write(tmp_path, """
grace: 10m
windows:
  - id: leqi-upgrade
    start: "2026-12-05T22:00:00+08:00"
    end: "2026-12-06T02:00:00+08:00"
    reason: 乐企 platform upgrade
  - {id: bj-db, start: "2026-12-07T01:00:00+08:00", end: "2026-12-07T03:00:00+08:00",
     region_code: 110000, source_system: erp-beijing}
"""))
    assert calendar.grace == 600.0
    upgrade, bj = calendar.windows
    assert upgrade.end - upgrade.start == 4 * 3600 and upgrade.scope == "platform"
    assert (bj.region_code, bj.source_system) == ("110000", "erp-beijing")
    json_file = write(tmp_path, '{"windows": []}', "w.json")
    assert load_maintenance(json_file) == MaintenanceCalendar((), 300.0)


@pytest.mark.parametrize(("text", "fragment"), [
    ("windows: [{id: w, start: '2026-12-05T22:00:00', end: '2026-12-06T02:00:00+08:00'}]",
     "windows.0.start: must carry a UTC offset"),
    ("windows: [{id: w, start: '2026-12-05T22:00:00+08:00', end: '2026-12-05T21:00:00+08:00'}]",
     "windows.0: end must be after start"),
    ("windows: [{id: w, start: '2026-12-05T22:00:00+08:00', end: '2026-12-06T22:00:00+08:00'},"
     " {id: w, start: '2026-12-07T22:00:00+08:00', end: '2026-12-08T22:00:00+08:00'}]",
     "duplicate window ids ['w']"),
    ("windows: [{id: w, start: '2026-12-05T22:00:00+08:00', end: '2026-12-06T02:00:00+08:00',"
     " region: '110000'}]", "windows.0.region: Extra inputs are not permitted"),
    ("windows: [{id: w, start: '2026-12-05T22:00:00+08:00', end: '2026-12-06T02:00:00+08:00',"
     " region_code: '11'}]", "windows.0.region_code"),
    ("grace: soon", "grace: invalid duration"),
    ("windows: [{start: '2026-12-05T22:00:00+08:00', end: '2026-12-06T02:00:00+08:00'}]",
     "windows.0.id: Field required"),
    ("windows: [a", "not valid YAML"),
])
def test_file_errors_name_the_window_and_field(tmp_path: Path, text: str, fragment: str) -> None:
    with pytest.raises(MaintenanceFileError) as caught:
        load_maintenance(write(tmp_path, text))
    assert str(caught.value).startswith(str(tmp_path / "windows.yaml"))
    assert fragment in str(caught.value)


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(MaintenanceFileError, match="cannot read"):
        load_maintenance(tmp_path / "missing.yaml")


def test_announced_phases_linger_after_the_end() -> None:
    calendar = MaintenanceCalendar((ALL, BEIJING), GRACE)
    assert calendar.announced(T0 + 999, linger=600) == []
    # Same start: in window id order (bj-db before upgrade).
    assert calendar.announced(T0 + 1000, linger=600) == [(BEIJING, "started"), (ALL, "started")]
    assert calendar.announced(T0 + 2000, linger=600) == [
        (BEIJING, "started"), (BEIJING, "ended"), (ALL, "started")]
    assert calendar.announced(T0 + 2600, linger=600) == [(ALL, "started")]  # bj-db long over
    assert calendar.announced(T0 + 4600, linger=600) == []
