"""Human-readable summaries of a simulated run and of its judgement."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from .scoring import CauseScore, Score, Verdict
from .truth import GroundTruth

SHOWN = 10


def truth_summary(truth: GroundTruth) -> str:
    """What the ground truth says must happen."""
    alerting = [t for t in truth.invoices if t.expect]
    kinds = Counter(f"{a.kind}/{a.severity}" for t in truth.invoices for a in t.expect)
    fates = Counter(t.fate for t in truth.invoices)
    reasons = Counter(d.reason for d in truth.dead_letters)
    return "\n".join([
        f"{len(truth.invoices)} invoices: {len(alerting)} must alert, "
        f"{len(truth.invoices) - len(alerting)} must not; fates: {_counts(fates)}",
        f"expected alerts: {_counts(kinds) or 'none'}",
        f"{len(truth.dead_letters)} records must be dead-lettered"
        + (f" ({_counts(reasons)})" if reasons else ""),
    ])


def _counts(counter: Counter[str]) -> str:
    return ", ".join(f"{name} {count}" for name, count in sorted(counter.items()))


def _line(name: str, score: Score[Any]) -> str:
    return (f"{name:<13} precision {score.precision:.3f}  recall {score.recall:.3f}  "
            f"(expected {len(score.expected)}, observed {len(score.observed)}, "
            f"matched {len(score.true_positives)}, false {len(score.false_positives)}, "
            f"missed {len(score.missed)})")


def _examples(title: str, identities: Iterable[tuple[str, ...]]) -> list[str]:
    items = sorted(identities)
    if not items:
        return []
    shown = ["  " + " ".join(item) for item in items[:SHOWN]]
    more = [f"  ... and {len(items) - SHOWN} more"] if len(items) > SHOWN else []
    return [f"{title}:", *shown, *more]


def cause_lines(causes: CauseScore) -> list[str]:
    """Cause accuracy and, per expected cause, what the alerts named."""
    lines = [f"causes:       accuracy {causes.accuracy:.3f}  ({causes.right} of "
             f"{causes.compared} unsynced alerts named the expected cause)"]
    for expected in sorted({e for e, _, _ in causes.pairs}):
        named = Counter({o: n for e, o, n in causes.pairs if e == expected})
        lines.append(f"  expected {expected:<21} {sum(named.values()):>6}: {_counts(named)}")
    return lines


def verdict_report(verdict: Verdict) -> str:
    """Precision/recall lines, counts per kind, and the first false and missed identities."""
    alerts, letters = verdict.alerts, verdict.dead_letters
    per_kind: list[str] = []
    for kind in sorted({(i[1], i[2]) for i in alerts.expected | alerts.observed}):
        expected = sum(1 for i in alerts.expected if (i[1], i[2]) == kind)
        observed = sum(1 for i in alerts.observed if (i[1], i[2]) == kind)
        matched = sum(1 for i in alerts.true_positives if (i[1], i[2]) == kind)
        per_kind.append(f"  {kind[0]}/{kind[1]:<10} expected {expected:>6}  "
                        f"observed {observed:>6}  matched {matched:>6}")
    notes = [f"repeated deliveries {verdict.repeats}, about other runs {verdict.foreign}, "
             f"not yet due (see --horizon) {verdict.not_judged}"]
    if verdict.scopes:
        notes.append(f"scope alerts (not scored): {'; '.join(sorted(set(verdict.scopes)))}")
    return "\n".join([
        *per_kind,
        _line("alerts:", alerts),
        _line("dead letters:", letters),
        *cause_lines(verdict.causes),
        *notes,
        *_examples("false alerts", alerts.false_positives),
        *_examples("missed alerts", alerts.missed),
        *_examples("false dead letters", letters.false_positives),
        *_examples("missed dead letters", letters.missed),
    ])
