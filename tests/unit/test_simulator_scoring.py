"""Precision and recall of alerts and dead letters against a ground truth."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import pytest

from pipeline.contracts import AlertKind, AlertSeverity
from pipeline.simulator.outcomes import ExpectedAlert
from pipeline.simulator.progress import Progress
from pipeline.simulator.report import verdict_report
from pipeline.simulator.scoring import Score, judge
from pipeline.simulator.truth import DeadLetterTruth, GroundTruth, InvoiceTruth


@dataclass(frozen=True)
class ScoreCase:
    name: str
    expected: set[str]
    observed: set[str]
    precision: float
    recall: float


SCORES = [
    ScoreCase("perfect", {"a", "b"}, {"a", "b"}, 1.0, 1.0),
    ScoreCase("nothing expected, nothing seen", set(), set(), 1.0, 1.0),
    ScoreCase("a false alarm", set(), {"a"}, 0.0, 1.0),
    ScoreCase("all missed", {"a", "b"}, set(), 1.0, 0.0),
    ScoreCase("half missed", {"a", "b"}, {"a"}, 1.0, 0.5),
    ScoreCase("one of four is false", {"a", "b", "c"}, {"a", "b", "c", "d"}, 0.75, 1.0),
    ScoreCase("disjoint", {"a"}, {"b"}, 0.0, 0.0),
]


@pytest.mark.parametrize("case", SCORES, ids=lambda c: c.name)
def test_score(case: ScoreCase) -> None:
    score = Score(frozenset(case.expected), frozenset(case.observed))
    assert score.precision == case.precision
    assert score.recall == case.recall
    assert score.meets(1.0) == (case.precision == case.recall == 1.0)
    assert score.meets(0.0)


def _invoice(invoice_id: str, *alerts: tuple[AlertKind, AlertSeverity, float]) -> InvoiceTruth:
    return InvoiceTruth(invoice_id, "x", "110000", "erp-beijing", 0.0, 10.0, 100.0,
                        tuple(ExpectedAlert(k, s, d) for k, s, d in alerts))


TRUTH = GroundTruth(
    run={"type": "run"},
    invoices=[
        _invoice("A", ("unsynced", "warning", 10.0), ("unsynced", "critical", 100.0)),
        _invoice("B", ("rejected", "warning", 1.0), ("resolved", "info", 20.0)),
        _invoice("C"),
    ],
    dead_letters=[DeadLetterTruth("BAD1", "issued", "not_json", "truncated"),
                  DeadLetterTruth("SO-9", "acknowledged", "key_mismatch", "order no", "9")],
)


def alert(invoice_id: str, kind: str, severity: str, **extra: Any) -> dict[str, Any]:
    return {"invoice_id": invoice_id, "kind": kind, "severity": severity, **extra}


@dataclass(frozen=True)
class JudgeCase:
    name: str
    alerts: list[dict[str, Any]]
    letters: list[tuple[str | None, str]]
    precision: float
    recall: float
    letters_ok: bool = True
    foreign: int = 0
    repeats: int = 0


ALL = [alert("A", "unsynced", "warning"), alert("B", "rejected", "warning"),
       alert("B", "resolved", "info")]
LETTERS: list[tuple[str | None, str]] = [("BAD1", "not_json"), ("SO-9", "key_mismatch")]
JUDGED = [
    JudgeCase("every expected alert", ALL, LETTERS, 1.0, 1.0),
    JudgeCase("a critical due after the cutoff counts neither way",
              [*ALL, alert("A", "unsynced", "critical")], LETTERS, 1.0, 1.0),
    JudgeCase("repeats count once", [*ALL, *ALL], LETTERS, 1.0, 1.0, repeats=3),
    JudgeCase("a false alarm on C", [*ALL, alert("C", "unsynced", "warning")], LETTERS, 0.75,
              1.0),
    JudgeCase("a wrong severity is false and missed",
              [alert("A", "unsynced", "critical"), *ALL[1:]], LETTERS, 1.0, 2 / 3),
    JudgeCase("other runs' alerts are ignored",
              [*ALL, alert("Z", "unsynced", "warning")], [*LETTERS, ("Z", "contract")], 1.0,
              1.0, foreign=2),
    JudgeCase("degraded alerts are listed, not scored",
              [*ALL, alert("", "degraded", "critical", scope="region_code",
                           region_code="110000")], LETTERS, 1.0, 1.0),
    JudgeCase("a missing dead letter", ALL, LETTERS[:1], 1.0, 1.0, letters_ok=False),
    JudgeCase("a dead letter with the wrong reason", ALL,
              [("BAD1", "contract"), LETTERS[1]], 1.0, 1.0, letters_ok=False),
    JudgeCase("a valid invoice dead-lettered", ALL, [*LETTERS, ("C", "contract")], 1.0, 1.0,
              letters_ok=False),
]


@pytest.mark.parametrize("case", JUDGED, ids=lambda c: c.name)
def test_judge(case: JudgeCase) -> None:
    verdict = judge(TRUTH, case.alerts, case.letters, cutoff=50.0)
    assert verdict.alerts.precision == pytest.approx(case.precision)
    assert verdict.alerts.recall == pytest.approx(case.recall)
    assert verdict.dead_letters.meets(1.0) == case.letters_ok
    assert verdict.not_judged == 1
    assert verdict.foreign == case.foreign
    assert verdict.repeats == case.repeats
    assert verdict.passed() == (case.precision == case.recall == 1.0 and case.letters_ok)
    report = verdict_report(verdict)
    assert f"precision {case.precision:.3f}  recall {case.recall:.3f}" in report


def test_report_names_false_and_missed_alerts() -> None:
    verdict = judge(TRUTH, [alert("C", "unsynced", "warning")], [], cutoff=50.0)
    report = verdict_report(verdict)
    assert "false alerts:\n  C unsynced warning" in report
    assert "missed alerts:\n  A unsynced warning" in report
    assert "missed dead letters:\n  BAD1 not_json" in report


def test_progress_off_a_terminal_prints_plain_lines_and_disabled_prints_nothing() -> None:
    out = io.StringIO()
    progress = Progress(out, enabled=True, total=10)
    progress.update(10, 20, 0.01, force=True)
    progress.close()
    assert out.getvalue().startswith("[" + "#" * 30 + "] 10/10 invoices, 20 records")
    assert out.getvalue().endswith("\n") and "\r" not in out.getvalue()
    silent = io.StringIO()
    Progress(silent, enabled=False, total=10).update(5, 5, 0.0, force=True)
    assert silent.getvalue() == ""
