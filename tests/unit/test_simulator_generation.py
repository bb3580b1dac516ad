"""The simulator's pure generator: valid invoices, scenario shares, a ground truth that follows
from the records themselves, and malformed records that intake rejects as planned."""

from __future__ import annotations

import re
from collections import Counter
from decimal import Decimal
from functools import cache

import orjson
import pytest

from pipeline.correlation.sla import SlaRules, Thresholds
from pipeline.intake import Accepted, Rejected, classify
from pipeline.simulator.latency import IN_TIME, LATE, LatencyModel
from pipeline.simulator.parties import REGION_BY_CODE
from pipeline.simulator.scenarios import SCENARIOS
from pipeline.simulator.timeline import (
    Item,
    SimulationConfig,
    TimedRecord,
    invoices_for,
    timeline,
)
from pipeline.simulator.truth import DeadLetterTruth, InvoiceTruth
from pipeline.taxpayer import TaxpayerIdKind, check_taxpayer_id

START = 1_777_777_777.0
SLA = SlaRules(default=Thresholds(warn_after=900.0, critical_after=14_400.0))
LATENCY = LatencyModel(median=45.0, p99=360.0)


@cache
def run(scenario: str, count: int = 1500, seed: int = 7, share: float | None = None,
        ) -> tuple[Item, ...]:
    return tuple(timeline(SimulationConfig(scenario, count, 50.0, seed, SLA, LATENCY, share),
                          START))


def records(items: tuple[Item, ...]) -> list[TimedRecord]:
    return [i for i in items if isinstance(i, TimedRecord)]


def invoices(items: tuple[Item, ...]) -> list[InvoiceTruth]:
    return [i for i in items if isinstance(i, InvoiceTruth)]


def letters(items: tuple[Item, ...]) -> list[DeadLetterTruth]:
    return [i for i in items if isinstance(i, DeadLetterTruth)]


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_records_are_in_time_order_and_every_valid_one_passes_intake(scenario: str) -> None:
    items = run(scenario)
    recs = records(items)
    assert [r.at for r in recs] == sorted(r.at for r in recs)
    bad = {letter.key: letter.reason for letter in letters(items)}
    for record in recs:
        verdict = classify("issued" if record.role == "issued" else "acknowledged",
                           record.key, record.value)
        if record.key.decode() in bad:
            assert isinstance(verdict, Rejected), record.value[:200]
            assert verdict.reason == bad[record.key.decode()]
        else:
            assert isinstance(verdict, Accepted), verdict
            assert verdict.warnings == ()  # every USCC has a valid check digit
            assert record.key == verdict.event.invoice_id.encode()


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_ground_truth_follows_from_the_records(scenario: str) -> None:
    """Recompute each invoice's alerts from its acknowledgement records alone."""
    items = run(scenario)
    acks: dict[str, list[tuple[float, str]]] = {}
    for record in records(items):
        verdict = classify("acknowledged", record.key, record.value)
        if record.role == "acknowledged" and isinstance(verdict, Accepted):
            event = verdict.event
            acks.setdefault(event.invoice_id, []).append((record.at, event.status))
    for truth in invoices(items):
        answers = sorted(acks.get(truth.invoice_id, []))
        accepted = next((at - truth.issued_at for at, s in answers if s != "rejected"), None)
        rejected_first = any(s == "rejected" for _, s in answers[:1])
        kinds = {(a.kind, a.severity) for a in truth.expect}
        late = accepted is None or accepted > truth.warn_after
        assert (("unsynced", "warning") in kinds) == late, truth
        assert (("rejected", "warning") in kinds) == rejected_first, truth
        assert (("resolved", "info") in kinds) == (accepted is not None and bool(
            kinds - {("resolved", "info")})), truth
        if accepted is not None:  # never in the guard band around the warning threshold
            assert not IN_TIME * truth.warn_after <= accepted <= LATE * truth.warn_after


def test_invoices_are_realistic() -> None:
    items = run("healthy")
    issued = [orjson.loads(r.value) for r in records(items) if r.role == "issued"]
    numbers = [e["invoice_number"] for e in issued]
    assert len(set(numbers)) == len(numbers)
    regions = Counter(e["region_code"] for e in issued)
    assert regions.most_common(1)[0][0] == "110000"
    assert 0.3 < regions["110000"] / len(issued) < 0.5
    assert len(regions) >= 6
    assert len({e["source_system"] for e in issued}) >= 5
    for event in issued:
        number = event["invoice_number"]
        assert re.fullmatch(r"[0-9]{20}", number)
        assert number[2:4] == event["region_code"][:2] == REGION_BY_CODE[
            event["region_code"]].province
        for party in ("seller_tax_id", "buyer_tax_id"):
            if event[party]:
                assert check_taxpayer_id(event[party]).kind is TaxpayerIdKind.USCC
        amount, tax, total = (Decimal(event[k]) for k in ("amount", "tax_amount",
                                                          "total_amount"))
        assert amount + tax == total
        assert (total <= 0) if event["red"] else (total >= 0)
        assert ("original_invoice_number" in event) == event["red"]
    assert 0 < sum(e["red"] for e in issued) < 0.1 * len(issued)
    assert {e["type_code_space"] for e in issued} == {"national", "leqi"}


def test_same_seed_same_run_other_seed_other_invoices() -> None:
    assert run("incomplete_fields", 200, 5) == tuple(timeline(
        SimulationConfig("incomplete_fields", 200, 50.0, 5, SLA, LATENCY), START))
    ids_a = {t.invoice_id for t in invoices(run("healthy", 200, 5))}
    ids_b = {t.invoice_id for t in invoices(run("healthy", 200, 6))}
    assert not ids_a & ids_b


SHARES = [
    ("forgotten_submission", {"never_submitted"}),
    ("incomplete_fields", {"rejected", "rejected_then_fixed"}),
    ("duplicates", {"issued_twice", "ack_twice", "resubmitted"}),
    ("out_of_order", {"ack_first"}),
]


@pytest.mark.parametrize(("scenario", "fates"), SHARES)
@pytest.mark.parametrize("share", [0.1, 0.3])
def test_scenarios_affect_the_share_asked_for(scenario: str, fates: set[str],
                                              share: float) -> None:
    truths = invoices(run(scenario, 2000, 11, share))[1:]  # the first is the canary
    affected = sum(t.fate in fates for t in truths) / len(truths)
    assert share * 0.8 < affected < share * 1.2


def test_malformed_share_and_reasons() -> None:
    items = run("malformed", 2000, 11, 0.1)
    bad = letters(items)
    assert 0.08 < len(bad) / len(invoices(items)) < 0.12
    assert {b.reason for b in bad} >= {"not_json", "contract", "key_mismatch"}
    assert len({b.key for b in bad}) == len(bad)


def test_every_run_has_a_canary_unless_asked_not_to() -> None:
    first = invoices(run("healthy"))[0]
    assert first.fate == "canary"
    assert [(a.kind, a.severity) for a in first.expect] == [("unsynced", "warning"),
                                                             ("unsynced", "critical")]
    config = SimulationConfig("healthy", 50, 50.0, 7, SLA, LATENCY, canary=False)
    assert all(not t.expect for t in invoices(tuple(timeline(config, START))))


def test_network_outage_holds_only_the_region_and_maintenance_holds_all() -> None:
    outage = invoices(run("network_outage", 3000))
    held = [t for t in outage if t.fate == "held"]
    assert held and {t.region_code for t in held} == {"110000"}
    maintenance = invoices(run("maintenance_window", 3000))
    assert len({t.region_code for t in maintenance if t.fate == "held"}) >= 6
    for truth in held:  # acked after the warning, so warned then resolved
        assert [a.kind for a in truth.expect] in (["unsynced", "resolved"], [])


def test_out_of_order_acks_come_before_their_invoices() -> None:
    items = run("out_of_order")
    first_seen: dict[bytes, str] = {}
    for record in records(items):
        first_seen.setdefault(record.key, record.role)
    ack_first = [t for t in invoices(items) if t.fate == "ack_first"]
    assert ack_first
    assert all(first_seen[t.invoice_id.encode()] == "acknowledged" for t in ack_first)
    assert all(not t.expect for t in ack_first)


@pytest.mark.parametrize("scenario", ["healthy", "duplicates", "malformed", "incomplete_fields"])
def test_records_average_the_rate_asked_for_over_the_issuing_span(scenario: str) -> None:
    items = run(scenario, 3000)
    issued_at = [t.issued_at for t in invoices(items)]
    assert 45 < len(records(items)) / (issued_at[-1] - issued_at[0]) < 55


def test_invoices_for_a_duration() -> None:
    assert invoices_for(60, "healthy", 50) == 1500
    assert invoices_for(60, "duplicates", 50, share=0.5) == 1200
    assert invoices_for(0.001, "healthy", 1) == 1


def test_config_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="unknown scenario"):
        SimulationConfig("chaos", 10, 1.0, 1, SLA, LATENCY)
    with pytest.raises(ValueError, match="share"):
        SimulationConfig("healthy", 10, 1.0, 1, SLA, LATENCY, share=1.5)
    with pytest.raises(ValueError, match="outage region"):
        SimulationConfig("healthy", 10, 1.0, 1, SLA, LATENCY, outage_region="999999")
