"""The simulator's uploads, expected causes, declared maintenance, and cause accuracy."""

from __future__ import annotations

from dataclasses import replace
from functools import cache

import orjson
import pytest

from pipeline.correlation.maintenance import MaintenanceCalendar, MaintenanceWindow
from pipeline.correlation.sla import SlaRules, Thresholds
from pipeline.intake import Accepted, classify
from pipeline.simulator.latency import LatencyModel
from pipeline.simulator.outcomes import ExpectedAlert
from pipeline.simulator.report import verdict_report
from pipeline.simulator.scenarios import OLD_CLIENT, SCENARIOS
from pipeline.simulator.scoring import judge
from pipeline.simulator.timeline import Item, SimulationConfig, TimedRecord, timeline
from pipeline.simulator.truth import GroundTruth, InvoiceTruth, parse_truth, to_line

START = 1_777_777_777.0
SLA = SlaRules(default=Thresholds(warn_after=900.0, critical_after=14_400.0))
LATENCY = LatencyModel(median=45.0, p99=360.0)
WINDOW = MaintenanceWindow("upgrade", START + 30, START + 1830)  # the run issues for ~90 s
DECLARED = MaintenanceCalendar((WINDOW,), grace=600.0)


@cache
def run(scenario: str, tracked: bool = True, cut: str = "platform",
        declared: bool = False, count: int = 1500) -> tuple[Item, ...]:
    config = SimulationConfig(scenario, count, 50.0, 7, SLA, LATENCY, submissions=tracked,
                              cut=cut,  # type: ignore[arg-type]
                              maintenance=DECLARED if declared else None)
    return tuple(timeline(config, START))


def truths(items: tuple[Item, ...]) -> list[InvoiceTruth]:
    return [i for i in items if isinstance(i, InvoiceTruth)]


def uploads(items: tuple[Item, ...]) -> dict[str, list[tuple[float, dict[str, object]]]]:
    found: dict[str, list[tuple[float, dict[str, object]]]] = {}
    for item in items:
        if isinstance(item, TimedRecord) and item.role == "submitted":
            event = orjson.loads(item.value)
            found.setdefault(event["invoice_id"], []).append((item.at, event))
    return found


def causes(items: tuple[Item, ...]) -> set[str | None]:
    return {t.cause for t in truths(items) if t.expect and t.fate != "canary"}


@pytest.mark.parametrize(("scenario", "cut", "declared", "expected"), [
    ("forgotten_submission", "platform", False, {"not_submitted"}),
    ("incomplete_fields", "platform", False, {"rejected_fields"}),
    ("network_outage", "platform", False, {"platform_unavailable"}),
    ("network_outage", "company", False, {"submission_failed"}),
    ("maintenance_window", "platform", False, {"platform_unavailable"}),
    ("maintenance_window", "platform", True, {"platform_maintenance"}),
    ("outdated_client", "platform", False, {"client_version"}),
])
def test_each_scenario_expects_its_cause(scenario: str, cut: str, declared: bool,
                                         expected: set[str]) -> None:
    items = run(scenario, cut=cut, declared=declared)
    assert causes(items) == expected
    canary = truths(items)[0]
    assert (canary.fate, canary.cause) == ("canary", "not_submitted")


def test_without_the_submitted_topic_only_knowable_causes_are_expected() -> None:
    assert causes(run("forgotten_submission", tracked=False)) == {"unknown"}
    assert causes(run("outdated_client", tracked=False)) == {None}
    assert causes(run("incomplete_fields", tracked=False)) == {"rejected_fields"}
    assert not uploads(run("forgotten_submission", tracked=False))


def test_uploads_pass_intake_and_come_before_the_answer() -> None:
    items = run("incomplete_fields")
    first_answer: dict[str, float] = {}
    for item in items:
        if isinstance(item, TimedRecord) and item.role == "submitted":
            assert isinstance(classify("submitted", item.key, item.value), Accepted)
        if isinstance(item, TimedRecord) and item.role == "acknowledged":
            first_answer.setdefault(item.key.decode(), item.at)
    seen = uploads(items)
    for truth in truths(items):
        if truth.fate == "canary":
            assert truth.invoice_id not in seen
            continue
        assert seen[truth.invoice_id][0][0] < first_answer[truth.invoice_id]


def test_the_tracked_run_has_the_same_invoices_and_fates() -> None:
    # Issue times differ (the uploads count towards --rate); ids and fates do not.
    plain = [(t.invoice_id, t.fate) for t in truths(run("forgotten_submission", False))]
    tracked = [(t.invoice_id, t.fate) for t in truths(run("forgotten_submission"))]
    assert plain == tracked
    never = {t.invoice_id for t in truths(run("forgotten_submission"))
             if t.fate == "never_submitted"}
    assert never and not never & set(uploads(run("forgotten_submission")))


def test_a_company_side_cut_fails_the_uploads_until_after_the_warning() -> None:
    items = run("network_outage", cut="company")
    seen = uploads(items)
    cut = [t for t in truths(items) if t.fate == "upload_cut"]
    assert cut and {t.region_code for t in cut} == {"110000"}
    for truth in cut:
        attempts = seen[truth.invoice_id]
        assert [e["attempt"] for _, e in attempts] == list(range(1, len(attempts) + 1))
        assert "transport_error" not in attempts[-1][1]
        if truth.expect:  # alerted: at the warning the last attempt had failed
            warn = truth.issued_at + truth.warn_after
            before = [e for at, e in attempts if at <= warn]
            assert before and "transport_error" in before[-1]


def test_outdated_client_uploads_with_the_old_version_and_gets_no_answer() -> None:
    items = run("outdated_client")
    seen = uploads(items)
    old = [t for t in truths(items) if t.fate == "outdated_client"]
    assert 0.15 < len(old) / len(truths(items)) < 0.25
    for truth in old:
        (_, event), = seen[truth.invoice_id]
        assert f"{event['client_name']}/{event['client_version']}" == OLD_CLIENT
    others = {f"{e['client_name']}/{e['client_version']}" for t in truths(items)
              if t.fate == "in_time" for _, e in seen[t.invoice_id]}
    assert OLD_CLIENT not in others and len(others) == 3


def test_a_declared_window_is_played_and_defers_the_alerts() -> None:
    undeclared = run("maintenance_window")
    declared = run("maintenance_window", declared=True)
    held = [t for t in truths(declared) if t.fate in ("held", "lost_in_maintenance")]
    issued = [t.issued_at + 0.0 for t in held]
    assert held and min(issued) > WINDOW.start - 900 and max(issued) < WINDOW.end
    warnings = [a for t in truths(declared) for a in t.expect
                if (a.kind, a.severity) == ("unsynced", "warning")]
    # No storm: only the invoices the upgrade lost (and the canary), after the window + grace.
    lost = [t for t in held if t.fate == "lost_in_maintenance"]
    assert len(warnings) == len(lost) + 1
    deferred = [a for t in lost for a in t.expect if a.kind == "unsynced"]
    assert any(a.due_at == WINDOW.end + DECLARED.grace for a in deferred)
    assert sum(len(t.expect) for t in truths(undeclared)) > 3 * len(warnings)


def test_grace_too_short_for_the_simulator_is_refused() -> None:
    with pytest.raises(ValueError, match="grace must be at least"):
        SimulationConfig("maintenance_window", 10, 1.0, 1, SLA, LATENCY,
                         maintenance=replace(DECLARED, grace=60.0))


def test_outdated_client_is_a_scenario() -> None:
    assert SCENARIOS["outdated_client"].default_share == 0.2


def _truth() -> GroundTruth:
    def invoice(name: str, cause: str) -> InvoiceTruth:
        return InvoiceTruth(name, "x", "110000", "erp", 0.0, 10.0, 100.0,
                            (ExpectedAlert("unsynced", "warning", 10.0),), cause)

    return GroundTruth({"type": "run"}, [invoice("A", "not_submitted"),
                                         invoice("B", "not_submitted"),
                                         invoice("C", "rejected_fields")])


def alert(invoice_id: str, code: str | None) -> dict[str, object]:
    document: dict[str, object] = {"invoice_id": invoice_id, "kind": "unsynced",
                                   "severity": "warning"}
    if code is not None:
        document["probable_cause"] = {"code": code, "summary": "s"}
    return document


def test_cause_accuracy_counts_each_judged_unsynced_alert_once() -> None:
    alerts = [alert("A", "not_submitted"), alert("A", "unknown"),  # a repeat: first counts
              alert("B", "awaiting_platform"), alert("C", None)]
    verdict = judge(_truth(), alerts, [], cutoff=50.0)
    assert (verdict.causes.right, verdict.causes.compared) == (1, 3)
    assert verdict.causes.accuracy == pytest.approx(1 / 3)
    assert verdict.passed(1.0) and not verdict.passed(1.0, cause_minimum=0.95)
    report = verdict_report(verdict)
    assert "causes:       accuracy 0.333  (1 of 3 unsynced alerts named the expected cause)" \
        in report
    assert "expected not_submitted" in report and "awaiting_platform 1, not_submitted 1" in report
    assert "expected rejected_fields" in report and "none 1" in report


def test_the_cause_survives_the_truth_file() -> None:
    truth = _truth()
    lines = [to_line(truth.run), *(to_line(t) for t in truth.invoices)]
    assert [t.cause for t in parse_truth(lines).invoices] == [
        "not_submitted", "not_submitted", "rejected_fields"]
