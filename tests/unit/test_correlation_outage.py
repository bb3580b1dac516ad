"""OutageDetector: degraded episodes per region and source system."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.correlation import OutageDetector, degraded_alert_id

T0 = 1_764_400_200.0  # a multiple of the 30 s bucket


def feed(
    detector: OutageDetector,
    at: float,
    unsynced: int,
    in_time: int,
    region: str = "110000",
    source: str = "erp-a",
) -> None:
    for _ in range(unsynced):
        detector.observe_due(region, source, True, at)
    for _ in range(in_time):
        detector.observe_synced_in_time(region, source, at)


@pytest.mark.parametrize(
    ("unsynced", "in_time", "degraded"),
    [
        (20, 0, True),  # all due invoices unsynced
        (10, 10, True),  # exactly the share threshold
        (9, 11, False),  # just below the share
        (19, 0, False),  # too few due invoices to judge
        (0, 100, False),  # healthy
    ],
)
def test_entering(unsynced: int, in_time: int, degraded: bool) -> None:
    detector = OutageDetector()
    feed(detector, T0, unsynced, in_time)
    alerts = detector.evaluate(T0 + 1)
    assert [(a.kind, a.scope) for a in alerts] == (
        [("degraded", "region_code"), ("degraded", "source_system")] if degraded else []
    )
    assert len(detector.active()) == (2 if degraded else 0)


def test_degraded_alert_fields() -> None:
    detector = OutageDetector()
    feed(detector, T0, 30, 10, region="110000", source="erp-a")
    feed(detector, T0, 0, 40, region="440000", source="erp-a")  # erp-a overall: 30/80
    alerts = detector.evaluate(T0 + 5)
    (alert,) = alerts
    assert alert.kind == "degraded" and alert.severity == "critical"
    assert (alert.scope, alert.region_code, alert.source_system) == ("region_code", "110000", None)
    assert (alert.unsynced_count, alert.due_count, alert.window_seconds) == (30, 40, 300.0)
    assert alert.invoice_id == ""
    assert alert.alert_id == degraded_alert_id("region_code", "110000", T0)
    assert (
        alert.message
        == "region_code 110000 degraded: 30 of 40 invoices due in the last 5m unsynced"
    )
    assert detector.active() == [("region_code", "110000")]


def test_one_alert_per_episode_then_resolved_when_share_drops() -> None:
    detector = OutageDetector()
    feed(detector, T0, 20, 0)
    first = detector.evaluate(T0)
    assert len(first) == 2
    feed(detector, T0 + 60, 5, 5)
    assert detector.evaluate(T0 + 60) == []  # still degraded (25/30): no repeat
    feed(detector, T0 + 200, 0, 200)  # 25 / 230 < 0.2
    resolved = detector.evaluate(T0 + 200)
    assert [(a.kind, a.severity) for a in resolved] == [("resolved", "info")] * 2
    assert {a.resolved_alert_ids for a in resolved} == {(a.alert_id,) for a in first}
    assert detector.active() == []


def test_hysteresis_between_recover_and_threshold_share() -> None:
    detector = OutageDetector()
    feed(detector, T0, 20, 0)
    detector.evaluate(T0)
    feed(detector, T0 + 30, 0, 50)  # 20 / 70 = 0.29: below entry, above recovery
    assert detector.evaluate(T0 + 30) == []
    assert len(detector.active()) == 2


def test_late_ack_burst_resolves() -> None:
    detector = OutageDetector(recovery_acks=5)
    feed(detector, T0, 40, 0)
    detector.evaluate(T0)
    for _ in range(5):
        detector.observe_synced_late("110000", "erp-a", T0 + 90)
    alerts = detector.evaluate(T0 + 90)
    assert [a.kind for a in alerts] == ["resolved", "resolved"]
    assert "5 late acks" in alerts[0].message


def test_late_acks_outside_the_recovery_period_do_not_resolve() -> None:
    detector = OutageDetector(recovery_acks=5)
    feed(detector, T0, 40, 0)
    detector.evaluate(T0)
    for _ in range(5):
        detector.observe_synced_late("110000", "erp-a", T0)
    assert detector.evaluate(T0 + 120) == []


def test_silence_keeps_the_episode_open_and_forgets_counts() -> None:
    detector = OutageDetector()
    feed(detector, T0, 20, 0)
    detector.evaluate(T0)
    assert detector.evaluate(T0 + 3600) == []
    assert len(detector.active()) == 2
    assert all(not buckets for buckets in detector._counts.values())


def test_counts_leave_the_window() -> None:
    detector = OutageDetector()
    feed(detector, T0, 15, 0)
    feed(detector, T0 + 300, 10, 0)  # T0's bucket has left the 300 s window
    assert detector.evaluate(T0 + 300) == []
    feed(detector, T0 + 299, 10, 0)
    assert len(detector.evaluate(T0 + 299)) == 0  # future counts are not yet in the window
    assert len(detector.evaluate(T0 + 300)) == 2


def test_a_new_episode_gets_a_new_id() -> None:
    detector = OutageDetector()
    feed(detector, T0, 20, 0)
    first = detector.evaluate(T0)[0].alert_id
    feed(detector, T0 + 30, 0, 500)
    detector.evaluate(T0 + 30)
    feed(detector, T0 + 900, 20, 0)
    second = detector.evaluate(T0 + 900)[0].alert_id
    assert first != second


@pytest.mark.parametrize(
    "kwargs",
    [{"window_seconds": 0}, {"min_due": 0}, {"recover_share": 0.6}, {"share_threshold": 1.5},
     {"buckets": 0}],
)  # fmt: skip
def test_rejects_bad_settings(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        OutageDetector(**kwargs)  # type: ignore[arg-type]


@given(st.lists(st.tuples(st.floats(0, 3000), st.booleans(), st.sampled_from("abc")), max_size=200))
def test_memory_is_bounded_by_buckets(events: list[tuple[float, bool, str]]) -> None:
    detector = OutageDetector()
    now = T0
    for gap, unsynced, value in events:
        now += gap / 10
        detector.observe_due(value, "s", unsynced, now)
        detector.evaluate(now)
    for buckets in detector._counts.values():
        assert len(buckets) <= detector.buckets


def test_a_late_ack_recovery_does_not_flap_back_on_the_same_evidence() -> None:
    """Found with `simulate --scenario network_outage`: the acks' burst resolved the episode,
    the unsynced invoices still in the window re-opened it on the next tick, with the same id,
    over and over. Re-entry needs fresh evidence after the recovery."""
    detector = OutageDetector(recovery_acks=5)
    feed(detector, T0, 40, 0)
    assert [a.kind for a in detector.evaluate(T0)] == ["degraded", "degraded"]
    for _ in range(5):
        detector.observe_synced_late("110000", "erp-a", T0 + 90)
    assert [a.kind for a in detector.evaluate(T0 + 90)] == ["resolved", "resolved"]
    for tick in range(1, 60):
        assert detector.evaluate(T0 + 90 + tick) == [], f"re-opened {tick}s after recovery"
    assert detector.active() == []
    # A new outage after the recovery is a new episode, with a new id.
    feed(detector, T0 + 150, 20, 0)
    again = detector.evaluate(T0 + 150)
    assert [a.kind for a in again] == ["degraded", "degraded"]
    assert again[0].alert_id != degraded_alert_id("region_code", "110000", T0)
    assert not detector.evaluate(T0 + 151)
    # Bookkeeping of a recovery is forgotten once it has left the window.
    quiet = OutageDetector(recovery_acks=5)
    feed(quiet, T0, 40, 0)
    quiet.evaluate(T0)
    for _ in range(5):
        quiet.observe_synced_late("110000", "erp-a", T0 + 90)
    quiet.evaluate(T0 + 90)
    quiet.evaluate(T0 + 90 + 2 * quiet.window_seconds)
    assert quiet._recovered_at == {} and quiet._counts == {}
