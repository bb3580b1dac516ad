"""Group-wide scope ledgers: counts, ack silences, one episode one id, durable, any order."""

from __future__ import annotations

import random
from dataclasses import replace

import orjson
import pytest

from pipeline.correlation.causes import ScopeEvidence, Silence, invoice_cause
from pipeline.correlation.evidence import (
    LedgerPolicy,
    Observation,
    ScopeLedger,
    decode_ledger,
    decode_runs,
    encode_ledger,
    encode_runs,
    evaluate,
    invoice_evidence,
    ledger_key,
    ledger_partition,
    observe,
    observe_run,
    parse_ledger_key,
    runs,
    scope_keys,
    summary,
)
from pipeline.correlation.state import InvoiceState
from pipeline.worker.wire import alert_key, alert_to_json

T0 = 1_764_400_000.0
POLICY = LedgerPolicy(window_seconds=300.0, buckets=10, min_due=20, min_silent_submissions=5)


def fold(observations: list[Observation], ledger: ScopeLedger | None = None) -> ScopeLedger:
    ledger = ledger or ScopeLedger()
    for observation in observations:
        ledger = observe(ledger, observation, policy=POLICY)
    return ledger


def outage(start: float, count: int, unsynced_share: float) -> list[Observation]:
    unsynced = round(count * unsynced_share)
    return [Observation("due", start + i * 0.5, unsynced=i < unsynced) for i in range(count)]


def test_scope_keys_and_ledger_keys() -> None:
    state = InvoiceState("i", 0, issued_at=T0, region_code="110000", source_system="erp",
                         client="up/2.9")
    assert scope_keys(state) == [("platform", ""), ("region_code", "110000"),
                                 ("source_system", "erp"), ("client_version", "up/2.9")]
    assert scope_keys(InvoiceState("i", 0)) == [("platform", "")]
    assert ledger_key("region_code", "110000") == "region_code:110000"


def test_counts_in_the_window_only() -> None:
    ledger = fold([*outage(T0, 10, 1.0), Observation("submitted", T0 + 1),
                   Observation("submitted", T0 + 2, failed=True)])
    assert summary(ledger, T0 + 10, policy=POLICY) == ScopeEvidence(10, 10, 2, 1, None)
    assert summary(ledger, T0 + 400, policy=POLICY).due == 0  # out of the window
    later = fold([Observation("due", T0 + 400)], ledger)
    assert [b.index for b in later.buckets] == [POLICY.index(T0 + 400)]  # old buckets dropped


def test_an_ack_silence_opens_after_enough_uploads_and_closes_on_the_next_answer() -> None:
    ledger = fold([Observation("answered", T0)])
    ledger = fold([Observation("submitted", T0 + i) for i in range(1, 5)], ledger)
    assert ledger.silence is None  # four uploads: not yet
    ledger = fold([Observation("submitted", T0 + 5)], ledger)
    assert ledger.silence == Silence(T0, None, 5)
    ledger = fold([Observation("submitted", T0 + 6, failed=True),  # never reached the platform
                   Observation("submitted", T0 + 7)], ledger)
    assert ledger.silence == Silence(T0, None, 6)
    ledger = fold([Observation("answered", T0 + 30)], ledger)
    assert ledger.silence == Silence(T0, T0 + 30, 6)
    assert ledger.unanswered == 0 and ledger.last_answer_at == T0 + 30


def test_a_silence_names_platform_unavailable_for_an_invoice_uploaded_during_it() -> None:
    region = fold([Observation("answered", T0),
                   *(Observation("submitted", T0 + i) for i in range(1, 30))])
    state = InvoiceState("i", 0, issued_at=T0 + 9, region_code="110000", source_system="erp",
                         warn_at=T0 + 300, critical_at=T0 + 3600, submitted_at=T0 + 10,
                         attempts=1, channel="leqi", client="up/3.2")
    ledgers = {("region_code", "110000"): region}

    def lookup(scope: str, value: str) -> ScopeEvidence:
        found = ledgers.get((scope, value))  # type: ignore[arg-type]
        return ScopeEvidence() if found is None else summary(found, T0 + 300, policy=POLICY)

    evidence = invoice_evidence(state, lookup, submissions_tracked=True)
    assert invoice_cause(state, evidence, now=T0 + 300).code == "platform_unavailable"
    untouched = invoice_evidence(replace(state, region_code="310000"), lookup,
                                 submissions_tracked=True)
    assert invoice_cause(state, untouched, now=T0 + 300).code == "awaiting_platform"


def test_an_episode_opens_once_and_resolves_with_its_own_id() -> None:
    ledger = fold(outage(T0, 30, 0.8))
    ledger, alerts = evaluate(ledger, "region_code", "110000", T0 + 20, policy=POLICY,
                              submissions_tracked=True)
    assert [(a.kind, a.severity, a.scope, a.region_code) for a in alerts] == [
        ("degraded", "critical", "region_code", "110000")]
    degraded = alerts[0]
    assert degraded.probable_cause is not None and degraded.unsynced_count == 24
    assert evaluate(ledger, "region_code", "110000", T0 + 21, policy=POLICY)[1] == []
    ledger = fold([Observation("late", T0 + 40 + i * 0.1) for i in range(20)], ledger)
    ledger, alerts = evaluate(ledger, "region_code", "110000", T0 + 45, policy=POLICY)
    assert [(a.kind, a.resolved_alert_ids) for a in alerts] == [
        ("resolved", (degraded.alert_id,))]
    # The outage's own unsynced invoices are still in the window: no new episode from them.
    assert evaluate(ledger, "region_code", "110000", T0 + 50, policy=POLICY)[1] == []


def test_three_workers_one_episode_one_id_whatever_the_interleaving() -> None:
    """Each worker sees a third of the region's invoices (7 of 20 due per window: below
    min_due alone); the ledger's owner sees all of them, in any interleaving."""
    observations = outage(T0, 60, 0.9)
    per_worker = [observations[w::3] for w in range(3)]
    alone = [evaluate(fold(part), "region_code", "110000", T0 + 10, policy=POLICY)[1]
             for part in (o[:7] for o in per_worker)]
    assert alone == [[], [], []]  # today's per-worker view: no episode at all
    ids = set()
    for seed in range(20):
        mixed = list(observations)
        random.Random(seed).shuffle(mixed)
        ledger, alerts = ScopeLedger(), []
        now = T0 + 30 + seed * 0.37  # the owner's ticks come whenever they come
        for i, observation in enumerate(mixed):
            ledger = observe(ledger, observation, policy=POLICY)
            if i % 7 == 6:
                ledger, fired = evaluate(ledger, "region_code", "110000", now, policy=POLICY)
                alerts += fired
        ledger, fired = evaluate(ledger, "region_code", "110000", now, policy=POLICY)
        alerts += fired
        assert [a.kind for a in alerts] == ["degraded"]
        ids.add(alerts[0].alert_id)
    assert len(ids) == 1


def test_a_restart_mid_episode_keeps_it_and_its_resolution() -> None:
    ledger, (degraded,) = evaluate(fold(outage(T0, 30, 0.9)), "source_system", "erp",
                                   T0 + 20, policy=POLICY)
    restored = decode_ledger(encode_ledger(ledger))  # what the changelog gives back
    assert restored == ledger
    assert evaluate(restored, "source_system", "erp", T0 + 25, policy=POLICY)[1] == []
    recovered = fold([Observation("due", T0 + 60 + i, unsynced=False) for i in range(120)],
                     restored)
    _, alerts = evaluate(recovered, "source_system", "erp", T0 + 200, policy=POLICY)
    assert [(a.kind, a.resolved_alert_ids) for a in alerts] == [
        ("resolved", (degraded.alert_id,))]


def test_platform_and_client_version_episodes() -> None:
    _, (platform,) = evaluate(fold(outage(T0, 30, 1.0)), "platform", "", T0 + 20, policy=POLICY)
    assert (platform.scope, platform.region_code, platform.client_version) == (
        "platform", None, None)
    _, (client,) = evaluate(fold(outage(T0, 30, 1.0)), "client_version", "up/2.9", T0 + 20,
                            policy=POLICY, parent=ScopeEvidence(500, 40), submissions_tracked=True)
    assert client.client_version == "up/2.9"
    assert client.probable_cause is not None and client.probable_cause.code == "client_version"
    for alert in (platform, client):  # valid on the wire
        document = orjson.loads(alert_to_json(alert))
        assert document["kind"] == "degraded" and document["probable_cause"]["code"]
    assert alert_key(platform) == b"platform:" and alert_key(client) == b"client_version:up/2.9"


def test_the_ledger_codec_refuses_garbage() -> None:
    for bad in (b"", b"[]", b'{"v": 2}', b'{"v": 1}'):
        with pytest.raises(ValueError, match="ledger"):
            decode_ledger(bad)


def test_policy_validation() -> None:
    with pytest.raises(ValueError):
        LedgerPolicy(window_seconds=0)
    with pytest.raises(ValueError):
        LedgerPolicy(recover_share=0.6, share=0.5)


def test_observations_travel_as_runs_that_fold_to_the_same_ledger() -> None:
    rng = random.Random(7)
    kinds = ("due", "late", "submitted", "answered")
    for _ in range(200):
        at, observations = T0, []
        for _ in range(rng.randrange(1, 60)):
            at += rng.choice((0.0, 0.5, 7.0, 40.0))  # same bucket, or the next ones
            observations.append(Observation(rng.choice(kinds), at,  # type: ignore[arg-type]
                                            unsynced=rng.random() < 0.5,
                                            failed=rng.random() < 0.3))
        observations = [o if o.kind == "due" else replace(o, unsynced=False)
                        for o in observations]
        observations = [o if o.kind == "submitted" else replace(o, failed=False)
                        for o in observations]
        start = fold([Observation("answered", T0 - 100)]) if rng.random() < 0.5 else None
        found = decode_runs(encode_runs(runs(observations, policy=POLICY)))
        folded = start or ScopeLedger()
        for run in found:
            folded = observe_run(folded, run, policy=POLICY)
        assert folded == fold(observations, start), observations
    burst = [Observation("submitted", T0 + i * 0.01) for i in range(1000)]
    assert len(runs(burst, policy=POLICY)) == 1  # a burst of uploads is one record


def test_a_corrupt_evidence_record_is_refused() -> None:
    for bad in (b"{", b'{"v": 2, "r": []}', b'{"v": 1, "r": [["x", 1, 1, 1, 0, 0]]}', b"[]",
                b'{"v": 1, "r": [["d", 1, 1, 0, 0, 0]]}', b'{"v": 1, "r": [["d", 1, 1]]}'):
        with pytest.raises(ValueError):
            decode_runs(bad)


def test_a_ledger_key_has_one_partition_and_names_its_scope() -> None:
    keys = [ledger_key("region_code", f"{r}0000") for r in range(11, 66)]
    partitions = {key: ledger_partition(key, 6) for key in keys}
    assert partitions == {key: ledger_partition(key, 6) for key in keys}  # stable
    assert set(partitions.values()) == set(range(6))  # spread over every partition
    assert parse_ledger_key("client_version:up/2.9:beta") == ("client_version", "up/2.9:beta")
    assert parse_ledger_key("platform:") == ("platform", "")
    with pytest.raises(ValueError):
        parse_ledger_key("seller:913501")
