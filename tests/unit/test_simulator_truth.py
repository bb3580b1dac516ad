"""Fates -> expected alerts, the latency model's guard band, and the ground-truth file."""

from __future__ import annotations

import random
import statistics
from dataclasses import dataclass

import pytest

from pipeline.correlation.sla import Thresholds
from pipeline.simulator.latency import (
    IN_TIME,
    LATE,
    LatencyModel,
    clear_of_thresholds,
    in_guard_band,
    late,
)
from pipeline.simulator.outcomes import AmbiguousFate, Answer, Fate, expected_alerts
from pipeline.simulator.truth import DeadLetterTruth, InvoiceTruth, parse_truth, to_line

T = Thresholds(warn_after=10.0, critical_after=100.0)
ISSUED = 1000.0
REASON = ("E1001", "购买方纳税人识别号校验不通过")


@dataclass(frozen=True)
class Case:
    name: str
    fate: Fate
    alerts: list[tuple[str, str, float]]


CASES = [
    Case("in time", Fate("x", (Answer(3, "accepted"),)), []),
    Case("duplicate status counts as accepted", Fate("x", (Answer(3, "duplicate"),)), []),
    Case("never", Fate("x"), [("unsynced", "warning", 1010), ("unsynced", "critical", 1100)]),
    Case("late", Fate("x", (Answer(20, "accepted"),)),
         [("unsynced", "warning", 1010), ("resolved", "info", 1020)]),
    Case("very late", Fate("x", (Answer(200, "accepted"),)),
         [("unsynced", "warning", 1010), ("unsynced", "critical", 1100),
          ("resolved", "info", 1200)]),
    Case("rejected", Fate("x", (Answer(1, "rejected", REASON),)),
         [("rejected", "warning", 1001), ("unsynced", "warning", 1010),
          ("unsynced", "critical", 1100)]),
    Case("rejected then fixed late", Fate("x", (Answer(1, "rejected", REASON),
                                                Answer(20, "accepted"))),
         [("rejected", "warning", 1001), ("unsynced", "warning", 1010),
          ("resolved", "info", 1020)]),
    Case("rejected then fixed in time", Fate("x", (Answer(1, "rejected", REASON),
                                                   Answer(4, "accepted"))),
         [("rejected", "warning", 1001), ("resolved", "info", 1004)]),
    Case("rejection after acceptance is ignored", Fate("x", (Answer(2, "accepted"),
                                                             Answer(4, "rejected", REASON))),
         []),
    Case("ack before its late issued event", Fate("x", (Answer(1, "accepted"),), 3.0), []),
    Case("copies change nothing", Fate("x", (Answer(2, "accepted", copies=3),),
                                       issued_copies=2), []),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_expected_alerts(case: Case) -> None:
    got = [(a.kind, a.severity, a.due_at) for a in expected_alerts(case.fate, ISSUED, T)]
    assert got == case.alerts


@pytest.mark.parametrize("after", [6.0, 10.0, 15.0, 60.0, 150.0])
def test_acceptance_in_a_guard_band_is_refused(after: float) -> None:
    with pytest.raises(AmbiguousFate):
        expected_alerts(Fate("x", (Answer(after, "accepted"),)), ISSUED, T)


def test_a_rejection_racing_a_late_issued_event_is_refused() -> None:
    with pytest.raises(AmbiguousFate):
        expected_alerts(Fate("x", (Answer(1, "rejected", REASON),), issued_delay=2), ISSUED, T)


def test_latency_model_median_and_p99() -> None:
    model = LatencyModel(median=2.0, p99=20.0)
    rng = random.Random(1)
    samples = sorted(model.sample(rng) for _ in range(20_000))
    assert 1.9 < statistics.median(samples) < 2.1
    assert 17 < samples[int(0.99 * len(samples))] < 23
    assert all(model.in_time(rng, T) < IN_TIME * T.warn_after for _ in range(2000))
    with pytest.raises(ValueError):
        LatencyModel(median=5, p99=5)


def test_in_time_falls_back_when_the_model_is_slower_than_the_threshold() -> None:
    slow = LatencyModel(median=100.0, p99=1000.0)
    rng = random.Random(2)
    assert all(0 <= slow.in_time(rng, T) < IN_TIME * T.warn_after for _ in range(200))


@pytest.mark.parametrize("latency", [0.0, 5.9, 6.0, 12.0, 15.0, 15.1, 59.0, 60.0, 149.0, 500.0])
def test_clear_of_thresholds_only_moves_later_and_out_of_every_band(latency: float) -> None:
    cleared = clear_of_thresholds(latency, T)
    assert cleared >= latency
    assert not in_guard_band(cleared, T)
    assert (cleared == latency) == (not in_guard_band(latency, T))


def test_late_is_past_warning_and_before_critical_when_there_is_room() -> None:
    rng = random.Random(3)
    for _ in range(500):
        value = late(rng, T)
        assert LATE * T.warn_after < value < IN_TIME * T.critical_after
    tight = Thresholds(warn_after=10.0, critical_after=20.0)
    assert all(late(rng, tight) > LATE * tight.critical_after for _ in range(100))


def test_ground_truth_round_trips() -> None:
    invoice = InvoiceTruth("26111000001000000001", "never_submitted", "110000", "erp-beijing",
                           ISSUED, 10.0, 100.0,
                           tuple(expected_alerts(Fate("never_submitted"), ISSUED, T)))
    letter = DeadLetterTruth("SO-1", "issued", "key_mismatch", "order number as key", "1")
    lines = [to_line({"type": "run", "scenario": "healthy"}), to_line(invoice),
             to_line(letter), to_line({"type": "produced", "last_record_at": ISSUED + 1})]
    truth = parse_truth(lines)
    assert truth.invoices == [invoice]
    assert truth.dead_letters == [letter]
    assert truth.known_ids() == {"26111000001000000001", "SO-1", "1"}
    assert truth.observe_until() == ISSUED + 10
    assert b'"due_at":"1970-01-01T08:16:50.000+08:00"' in lines[1]


@pytest.mark.parametrize(("lines", "message"), [
    ([], "empty"),
    ([b'{"type": "invoice"}'], "line 1: the first line must be the run header"),
    ([b'{"type": "run"}', b'{"type": "what"}'], "line 2: unknown record type"),
    ([b'{"type": "run"}', b"{nope"], "line 2"),
    ([b'{"type": "run"}', b'{"type": "invoice", "invoice_id": "1"}'], "line 2"),
])
def test_bad_ground_truth_names_the_line(lines: list[bytes], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_truth(lines)
