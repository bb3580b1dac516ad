"""The probable-cause rules: one table row per situation, every code decided at least once."""

from __future__ import annotations

from dataclasses import dataclass, replace

import pytest

from pipeline.correlation.causes import (
    CAUSE_CODES,
    CauseCode,
    CausePolicy,
    EpisodeEvidence,
    Evidence,
    ScopeEvidence,
    Silence,
    episode_cause,
    invoice_cause,
)
from pipeline.correlation.facts import Submission
from pipeline.correlation.maintenance import MaintenanceWindow
from pipeline.correlation.rules import on_submitted
from pipeline.correlation.state import InvoiceState

T0 = 1_764_400_000.0
NOW = T0 + 900.0
PENDING = InvoiceState("26111000000000000001", 0, issued_at=T0, region_code="110000",
                       source_system="erp-beijing", warn_at=T0 + 600, critical_at=T0 + 3600)
UPLOADED = replace(PENDING, submitted_at=T0 + 30, attempts=1, channel="leqi",
                   client="uploader/3.2.1")
FAILED = replace(UPLOADED, attempts=3, transport_error="connect timeout")
REJECTED = replace(UPLOADED, ack_status="rejected", acknowledged_at=T0 + 60,
                   reason_code="E1001", reason="购买方纳税人识别号校验不通过")
OLD_CLIENT = replace(UPLOADED, client="uploader/2.9.0")
WINDOW = MaintenanceWindow("upgrade-2026-12", T0 + 100, T0 + 700, reason="乐企 platform upgrade")

HEALTHY = ScopeEvidence(due=100, unsynced=5, submitted=100)
DOWN = ScopeEvidence(due=100, unsynced=90, submitted=100)
SILENT = ScopeEvidence(due=0, unsynced=0, submitted=0)
TRACKED = Evidence(submissions_tracked=True, platform=HEALTHY, region=HEALTHY, source=HEALTHY,
                   client_version=HEALTHY)
UNTRACKED = replace(TRACKED, submissions_tracked=False)
CUT = Silence(since=T0 + 10, until=None, submissions=40)
# The region mostly unsynced across its sources (two sources of 100 each).
REGION_DOWN = replace(TRACKED, region=ScopeEvidence(due=200, unsynced=180, submitted=200),
                      source=DOWN)


@dataclass(frozen=True)
class Row:
    name: str
    state: InvoiceState
    evidence: Evidence
    code: CauseCode
    fragment: str


ROWS = [
    Row("never uploaded", PENDING, TRACKED, "not_submitted", "no upload attempt seen"),
    Row("last attempt failed in transport", FAILED, TRACKED, "submission_failed",
        "connect timeout"),
    Row("uploaded, no answer", UPLOADED, TRACKED, "awaiting_platform", "no answer"),
    Row("acks stopped in the region during its upload", UPLOADED,
        replace(TRACKED, region=replace(HEALTHY, silence=CUT)), "platform_unavailable",
        "acknowledgements stopped for region 110000"),
    Row("acks stopped everywhere", UPLOADED,
        replace(TRACKED, platform=replace(HEALTHY, silence=CUT)), "platform_unavailable",
        "every region"),
    Row("untracked: issued during a region silence", PENDING,
        replace(UNTRACKED, region=replace(HEALTHY, silence=replace(CUT, since=T0 - 5))),
        "platform_unavailable", "stopped"),
    Row("region degraded across its sources", UPLOADED, REGION_DOWN, "platform_unavailable",
        "degraded"),
    Row("inside a declared window", UPLOADED, replace(TRACKED, maintenance=WINDOW),
        "platform_maintenance", "upgrade-2026-12"),
    Row("maintenance beats a rejection", REJECTED, replace(TRACKED, maintenance=WINDOW),
        "platform_maintenance", "every region"),
    Row("never uploaded: maintenance is not why", PENDING, replace(TRACKED, maintenance=WINDOW),
        "not_submitted", "no upload attempt"),
    Row("untracked: waited through a window", PENDING, replace(UNTRACKED, maintenance=WINDOW),
        "platform_maintenance", "upgrade-2026-12"),
    Row("source silent, rest of region syncs", PENDING,
        replace(TRACKED, source=replace(SILENT, due=30, unsynced=30),
                region=ScopeEvidence(due=130, unsynced=32, submitted=100)),
        "source_outage", "source system erp-beijing silent"),
    Row("untracked: source mostly unsynced, rest syncs", PENDING,
        replace(UNTRACKED, source=ScopeEvidence(due=30, unsynced=25),
                region=ScopeEvidence(due=130, unsynced=27)), "source_outage", "silent"),
    Row("one client version unsynced, others sync", OLD_CLIENT,
        replace(TRACKED, client_version=ScopeEvidence(due=40, unsynced=38, submitted=40),
                platform=ScopeEvidence(due=400, unsynced=45, submitted=400)),
        "client_version", "uploader/2.9.0"),
    Row("uploads of one version unanswered, others answered (before any deadline)", OLD_CLIENT,
        replace(TRACKED, client_version=ScopeEvidence(submitted=8, answered=0),
                platform=ScopeEvidence(submitted=300, answered=260)),
        "client_version", "0 answers to 8 uploads"),
    Row("too few uploads of the version to tell", OLD_CLIENT,
        replace(TRACKED, client_version=ScopeEvidence(submitted=3, answered=0),
                platform=ScopeEvidence(submitted=300, answered=260)),
        "awaiting_platform", "no answer"),
    Row("others unanswered too: not the client", OLD_CLIENT,
        replace(TRACKED, client_version=ScopeEvidence(submitted=8, answered=0),
                platform=ScopeEvidence(submitted=300, answered=100)),
        "awaiting_platform", "no answer"),
    Row("client version beats a rejection", replace(REJECTED, client="uploader/2.9.0"),
        replace(TRACKED, client_version=ScopeEvidence(due=40, unsynced=38),
                platform=ScopeEvidence(due=400, unsynced=45)), "client_version", "2.9.0"),
    Row("rejected with a reason", REJECTED, TRACKED, "rejected_fields", "E1001"),
    Row("rejected, untracked", replace(REJECTED, attempts=0, submitted_at=None), UNTRACKED,
        "rejected_fields", "购买方"),
    Row("untracked and nothing degraded", PENDING, UNTRACKED, "unknown",
        "INVOICE_SYNC_TOPIC_SUBMITTED"),
    # Near misses: evidence that must not decide.
    Row("silence too short to count", UPLOADED,
        replace(TRACKED, region=replace(HEALTHY, silence=replace(CUT, submissions=2))),
        "awaiting_platform", "no answer"),
    Row("silence ended before its upload", UPLOADED,
        replace(TRACKED, region=replace(HEALTHY, silence=Silence(T0 - 600, T0 + 1, 40))),
        "awaiting_platform", "no answer"),
    Row("all versions unsynced: the platform, not the client", OLD_CLIENT,
        replace(TRACKED, client_version=DOWN, platform=ScopeEvidence(due=400, unsynced=380)),
        "platform_unavailable", "every region degraded"),
    Row("source down with too few due", PENDING,
        replace(TRACKED, source=ScopeEvidence(due=10, unsynced=10),
                region=ScopeEvidence(due=110, unsynced=12)), "not_submitted", "no upload"),
    Row("uploaded: a silent source is not the cause", UPLOADED,
        replace(TRACKED, source=replace(SILENT, due=30, unsynced=30),
                region=ScopeEvidence(due=130, unsynced=32)), "awaiting_platform", "no answer"),
    Row("one source down is not a platform outage", UPLOADED,
        replace(TRACKED, source=DOWN, region=ScopeEvidence(due=200, unsynced=95)),
        "awaiting_platform", "no answer"),
    Row("transport error ignored when untracked", replace(FAILED), UNTRACKED, "unknown",
        "not decidable"),
]


@pytest.mark.parametrize("row", ROWS, ids=lambda row: row.name)
def test_invoice_cause(row: Row) -> None:
    cause = invoice_cause(row.state, row.evidence, now=NOW)
    assert cause.code == row.code
    assert row.fragment in cause.summary
    assert all(isinstance(key, str) and value is not None for key, value in cause.evidence)


def test_every_code_is_decided_by_some_row() -> None:
    invoice = {row.code for row in ROWS}
    episode = {row.code for row in EPISODES}
    assert invoice | episode == set(CAUSE_CODES)


def test_evidence_names_the_facts_used() -> None:
    failed = dict(invoice_cause(FAILED, TRACKED, now=NOW).evidence)
    assert failed == {"attempts": 3, "last_attempt_at": T0 + 30, "channel": "leqi",
                      "client": "uploader/3.2.1", "transport_error": "connect timeout"}
    window = dict(invoice_cause(UPLOADED, replace(TRACKED, maintenance=WINDOW), now=NOW).evidence)
    assert window["window_id"] == "upgrade-2026-12"
    assert (window["window_starts_at"], window["window_ends_at"]) == (T0 + 100, T0 + 700)
    assert window["reason"] == "乐企 platform upgrade"


def test_a_short_silence_does_not_count_with_a_minimum_length() -> None:
    evidence = replace(TRACKED, region=replace(HEALTHY, silence=CUT))  # since T0 + 10, ongoing
    assert invoice_cause(UPLOADED, evidence, now=NOW).code == "platform_unavailable"
    policy = CausePolicy(min_silence_seconds=NOW - T0)  # longer than the spell so far
    assert invoice_cause(UPLOADED, evidence, now=NOW, policy=policy).code == "awaiting_platform"
    brief = replace(TRACKED, region=replace(HEALTHY, silence=Silence(T0 + 20, T0 + 50, 40)))
    assert invoice_cause(UPLOADED, brief, now=NOW).code == "awaiting_platform"  # 30 s < 60 s


def test_policy_thresholds_are_respected() -> None:
    evidence = replace(TRACKED, client_version=ScopeEvidence(due=40, unsynced=38),
                       platform=ScopeEvidence(due=400, unsynced=45))
    assert invoice_cause(OLD_CLIENT, evidence, now=NOW).code == "client_version"
    strict = CausePolicy(min_due=50)
    assert invoice_cause(OLD_CLIENT, evidence, now=NOW, policy=strict).code == "awaiting_platform"


@dataclass(frozen=True)
class Episode:
    name: str
    evidence: EpisodeEvidence
    code: CauseCode


EPISODES = [
    Episode("region silent while uploads go in",
            EpisodeEvidence("region_code", "110000", replace(DOWN, silence=CUT), HEALTHY, True),
            "platform_unavailable"),
    Episode("region uploads unanswered",
            EpisodeEvidence("region_code", "110000", DOWN, DOWN, True), "platform_unavailable"),
    Episode("region uploads failing",
            EpisodeEvidence("region_code", "110000", replace(DOWN, failed=80), HEALTHY, True),
            "submission_failed"),
    Episode("source silent",
            EpisodeEvidence("source_system", "erp-beijing", replace(DOWN, submitted=0),
                            ScopeEvidence(due=200, unsynced=95, submitted=100), True),
            "source_outage"),
    Episode("source down, region otherwise fine (untracked)",
            EpisodeEvidence("source_system", "erp-beijing", DOWN,
                            ScopeEvidence(due=200, unsynced=100)), "source_outage"),
    Episode("client version",
            EpisodeEvidence("client_version", "uploader/2.9.0", DOWN,
                            ScopeEvidence(due=400, unsynced=100), True), "client_version"),
    Episode("declared window",
            EpisodeEvidence("platform", "", DOWN, DOWN, True, maintenance=WINDOW),
            "platform_maintenance"),
    Episode("nothing uploaded in the region",
            EpisodeEvidence("region_code", "110000", replace(DOWN, submitted=0), HEALTHY, True),
            "not_submitted"),
    Episode("untracked region without silence",
            EpisodeEvidence("region_code", "110000", DOWN, HEALTHY), "unknown"),
]


@pytest.mark.parametrize("row", EPISODES, ids=lambda row: row.name)
def test_episode_cause(row: Episode) -> None:
    cause = episode_cause(row.evidence, now=NOW)
    assert cause.code == row.code
    assert cause.summary


def submission(attempt: int, at: float, error: str | None = None) -> Submission:
    return Submission(PENDING.invoice_id, f"s-{attempt}-{at}", at, "web", "电子税务局/2024.11",
                      attempt, error)


def test_the_record_keeps_the_latest_attempt_whatever_the_order() -> None:
    second, _ = on_submitted(PENDING, submission(2, T0 + 90, "TLS handshake failed"), now=NOW,
                             partition=0)
    assert (second.attempts, second.transport_error) == (2, "TLS handshake failed")
    stale, alerts = on_submitted(second, submission(1, T0 + 30), now=NOW, partition=0)
    assert stale is second and alerts == []
    replayed, _ = on_submitted(second, submission(2, T0 + 90, "TLS handshake failed"), now=NOW,
                               partition=0)
    assert replayed is second
    third, _ = on_submitted(second, submission(3, T0 + 200), now=NOW, partition=0)
    assert third.transport_error is None and third.submitted_at == T0 + 200
    assert third.channel == "web" and third.client == "电子税务局/2024.11"


def test_a_submission_before_its_invoice_is_held_and_expires_silently() -> None:
    from pipeline.correlation.rules import on_due

    held, _ = on_submitted(None, submission(1, T0), now=T0, partition=2, retention=60)
    assert held.is_submitted and not held.is_issued and held.expires_at == T0 + 60
    gone, alerts = on_due(held, now=T0 + 61, watermark=T0 + 61)
    assert gone is None and alerts == []  # not an orphan_ack: no ack was held


def test_attempts_after_sync_are_ignored() -> None:
    synced = replace(UPLOADED, ack_status="accepted", acknowledged_at=T0 + 40)
    after, _ = on_submitted(synced, submission(5, T0 + 50, "timeout"), now=NOW, partition=0)
    assert after is synced


def test_long_client_and_error_are_cut() -> None:
    long = Submission(PENDING.invoice_id, "e", T0, "leqi", "c" * 200, 1, "e" * 500)
    state, _ = on_submitted(PENDING, long, now=NOW, partition=0)
    assert len(state.client or "") == 64 and len(state.transport_error or "") == 64
