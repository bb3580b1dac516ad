"""Scope evidence for the whole worker group: one ledger per scope value, one owner per ledger.

Decided per worker in memory (the former ``OutageDetector``), ``degraded`` had each of three
workers see a third of a region, lost an episode in a restart, and could raise one outage under
two ids. This module is the pure core of the group-wide way (the adapter:
pipeline/worker/ledgers.py):

- every worker turns what it processes into :class:`Observation` s, one per scope the invoice
  belongs to (:func:`scope_keys`: the platform, its region, its source system, its client), and
  sends them to a topic keyed by ``scope:value`` (:func:`ledger_key`);
- the one worker that owns that key's partition folds them into the scope's
  :class:`ScopeLedger` (:func:`observe`) and keeps it in a table (changelogged, so durable across
  restarts: :func:`encode_ledger` / :func:`decode_ledger`);
- it alone opens and closes the scope's episode (:func:`evaluate`), so one episode has one
  ``alert_id`` whichever workers saw its invoices;
- every worker reads the ledgers (their changelog, whole); their :func:`summary` builds an
  invoice's :class:`~.causes.Evidence` (:func:`invoice_evidence`).

Memory per ledger is bounded by the window's buckets, not by invoices. Observations carry the
observing worker's processing time; a ledger takes them in any order (counts go to the bucket of
their own time; the last ack time is a maximum).
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Literal

import orjson

from .alerts import Alert, AlertKind, degraded_alert_id, recovery_alert_id
from .causes import (
    NO_EVIDENCE,
    Cause,
    EpisodeEvidence,
    Evidence,
    EvidenceScope,
    ScopeEvidence,
    Silence,
    episode_cause,
)
from .durations import format_duration
from .frozen import quick_init
from .maintenance import MaintenanceWindow
from .state import InvoiceState

ObservationKind = Literal["due", "late", "submitted", "answered"]


@quick_init
@dataclass(frozen=True, slots=True)
class Observation:
    """One fact about one invoice, for one of its scopes, at processing time ``at``.

    ``due``: its warning deadline passed (``unsynced``: without an acceptance); ``late``: it was
    accepted after that deadline (acks flow again); ``submitted``: an upload attempt (``failed``:
    in transport); ``answered``: the platform answered it (any status)."""

    kind: ObservationKind
    at: float
    unsynced: bool = False
    failed: bool = False


@dataclass(frozen=True, slots=True)
class LedgerPolicy:
    """Window and thresholds of the ledgers (the settings of the former per-worker detector)."""

    window_seconds: float = 300.0
    buckets: int = 10
    min_due: int = 20
    share: float = 0.5
    recover_share: float = 0.2
    recovery_acks: int = 20
    min_silent_submissions: int = 5

    def __post_init__(self) -> None:
        if not (self.window_seconds > 0 and math.isfinite(self.window_seconds)):
            raise ValueError("window_seconds must be positive")
        if min(self.buckets, self.min_due, self.recovery_acks, self.min_silent_submissions) < 1:
            raise ValueError("buckets, min_due, recovery_acks, min_silent_submissions: >= 1")
        if not 0 < self.recover_share <= self.share <= 1:
            raise ValueError("need 0 < recover_share <= share <= 1")

    @property
    def bucket_seconds(self) -> float:
        """Width of one counting bucket."""
        return self.window_seconds / self.buckets

    def index(self, at: float) -> int:
        """The bucket of time ``at``."""
        return math.floor(at / self.bucket_seconds)


@quick_init
@dataclass(frozen=True, slots=True)
class Bucket:
    """Counts of one bucket: due, unsynced, late, submitted, failed, answered."""

    index: int
    due: int = 0
    unsynced: int = 0
    late: int = 0
    submitted: int = 0
    failed: int = 0
    answered: int = 0


@quick_init
@dataclass(frozen=True, slots=True)
class ScopeLedger:
    """What the group knows about one scope value."""

    buckets: tuple[Bucket, ...] = ()
    last_answer_at: float | None = None
    #: Uploads that reached the platform since the last answer, and when the first came.
    unanswered: int = 0
    unanswered_since: float | None = None
    silence: Silence | None = None
    episode_start: float | None = None
    episode_id: str | None = None
    #: Bucket of the last recovery: a new episode counts later buckets only (as today).
    recovered_bucket: int | None = None


def scope_keys(state: InvoiceState) -> list[tuple[EvidenceScope, str]]:
    """The scopes an invoice belongs to (client only once an upload named it)."""
    keys: list[tuple[EvidenceScope, str]] = [("platform", "")]
    if state.region_code:
        keys.append(("region_code", state.region_code))
    if state.source_system:
        keys.append(("source_system", state.source_system))
    if state.client:
        keys.append(("client_version", state.client))
    return keys


def ledger_key(scope: EvidenceScope, value: str) -> str:
    """The key of a scope's ledger (and of its observations on the evidence topic)."""
    return f"{scope}:{value}"


@quick_init
@dataclass(frozen=True, slots=True)
class Run:
    """Consecutive observations of one kind (and failed flag) in one bucket, folded at once:
    ``count`` of them, ``unsynced`` of those unsynced, the first one's time and the latest time
    (what travels on the evidence topic: a burst of a thousand uploads is one run)."""

    kind: ObservationKind
    first_at: float
    last_at: float
    count: int = 1
    unsynced: int = 0
    failed: bool = False


def runs(observations: Sequence[Observation], *, policy: LedgerPolicy) -> list[Run]:
    """``observations`` (in the order made) as runs; folding the runs in order gives the same
    ledger as folding the observations (:func:`observe_run`)."""
    found: list[Run] = []
    for o in observations:
        last = found[-1] if found else None
        if (last is not None and last.kind == o.kind and last.failed == o.failed
                and policy.index(last.first_at) == policy.index(o.at)):
            found[-1] = replace(last, last_at=max(last.last_at, o.at), count=last.count + 1,
                                unsynced=last.unsynced + o.unsynced)
        else:
            found.append(Run(o.kind, o.at, o.at, 1, int(o.unsynced), o.failed))
    return found


def observe(ledger: ScopeLedger, observation: Observation, *, policy: LedgerPolicy) -> ScopeLedger:
    """``ledger`` with ``observation`` folded in (buckets older than the window are dropped
    relative to the newest bucket seen)."""
    return observe_run(ledger, Run(observation.kind, observation.at, observation.at, 1,
                                   int(observation.unsynced), observation.failed), policy=policy)


def observe_run(ledger: ScopeLedger, run: Run, *, policy: LedgerPolicy) -> ScopeLedger:
    """``ledger`` with the observations of ``run`` folded in, as one by one."""
    index = policy.index(run.first_at)
    kind, n = run.kind, run.count
    bucket = next((b for b in ledger.buckets if b.index == index), Bucket(index))
    if kind == "answered":
        bucket = replace(bucket, answered=bucket.answered + n)
    elif kind == "due":
        bucket = replace(bucket, due=bucket.due + n, unsynced=bucket.unsynced + run.unsynced)
    elif kind == "late":
        bucket = replace(bucket, late=bucket.late + n)
    else:
        bucket = replace(bucket, submitted=bucket.submitted + n,
                         failed=bucket.failed + (n if run.failed else 0))
    newest = max([index, *(b.index for b in ledger.buckets)])
    kept = [b for b in ledger.buckets if b.index != index and b.index > newest - policy.buckets]
    if index > newest - policy.buckets:
        kept.append(bucket)
    ledger = replace(ledger, buckets=tuple(sorted(kept, key=lambda b: b.index)))
    if kind == "answered":
        ledger = _answered(ledger, run.first_at)
        if run.last_at > (ledger.last_answer_at or run.last_at):
            ledger = replace(ledger, last_answer_at=run.last_at)
    elif kind == "submitted" and not run.failed:
        ledger = _unanswered_upload(ledger, run.first_at, policy, n)
    return ledger


def _answered(ledger: ScopeLedger, at: float) -> ScopeLedger:
    last = at if ledger.last_answer_at is None else max(ledger.last_answer_at, at)
    silence = ledger.silence
    if silence is not None and silence.until is None:
        silence = replace(silence, until=max(at, silence.since))
    return replace(ledger, last_answer_at=last, unanswered=0, unanswered_since=None,
                   silence=silence)


def _unanswered_upload(ledger: ScopeLedger, at: float, policy: LedgerPolicy,
                       uploads: int = 1) -> ScopeLedger:
    count = ledger.unanswered + uploads
    since = ledger.unanswered_since
    if since is None:
        since = ledger.last_answer_at if ledger.last_answer_at is not None else at
    silence = ledger.silence
    if silence is not None and silence.until is None:
        silence = replace(silence, submissions=count)
    elif count >= policy.min_silent_submissions:
        silence = Silence(since, None, count)
    return replace(ledger, unanswered=count, unanswered_since=since, silence=silence)


def summary(ledger: ScopeLedger, now: float, *, policy: LedgerPolicy) -> ScopeEvidence:
    """The evidence of the scope over the window ending at ``now`` (what the causes read)."""
    live = _live(ledger, policy.index(now), policy, after=None)
    return ScopeEvidence(
        due=sum(b.due for b in live), unsynced=sum(b.unsynced for b in live),
        submitted=sum(b.submitted for b in live), failed=sum(b.failed for b in live),
        silence=ledger.silence, answered=sum(b.answered for b in live))


def _live(ledger: ScopeLedger, current: int, policy: LedgerPolicy,
          after: int | None) -> list[Bucket]:
    first = current - policy.buckets + 1
    if after is not None:
        first = max(first, after + 1)
    return [b for b in ledger.buckets if first <= b.index <= current]


def evaluate(ledger: ScopeLedger, scope: EvidenceScope, value: str, now: float, *,
             policy: LedgerPolicy, parent: ScopeEvidence = NO_EVIDENCE,
             submissions_tracked: bool = False,
             maintenance: MaintenanceWindow | None = None,
             ) -> tuple[ScopeLedger, list[Alert]]:
    """Open or close the scope's episode as of ``now``: ``degraded`` (critical, with its probable
    cause) when at least ``min_due`` are due and ``share`` unsynced; ``resolved`` when the share
    falls under ``recover_share`` or ``recovery_acks`` late acceptances came within the last
    bucket-rounded minute. One ledger, one owner: the episode id is the ledger's, whatever
    worker saw the invoices; it survives a restart with the ledger."""
    current = policy.index(now)
    if ledger.episode_id is None and ledger.recovered_bucket is not None and (
            ledger.recovered_bucket < current - policy.buckets):
        ledger = replace(ledger, recovered_bucket=None)
    after = ledger.recovered_bucket if ledger.episode_id is None else None
    live = _live(ledger, current, policy, after)
    due, unsynced = sum(b.due for b in live), sum(b.unsynced for b in live)
    recent = current - max(1, math.ceil(60.0 / policy.bucket_seconds)) + 1
    late = sum(b.late for b in live if b.index >= recent)
    share = unsynced / due if due else 0.0
    own = ScopeEvidence(due, unsynced, sum(b.submitted for b in live),
                        sum(b.failed for b in live), ledger.silence,
                        sum(b.answered for b in live))
    if ledger.episode_id is None:
        if due >= policy.min_due and share >= policy.share:
            start = current * policy.bucket_seconds
            episode_id = degraded_alert_id(scope, value, start)
            cause = episode_cause(EpisodeEvidence(scope, value, own, parent, submissions_tracked,
                                                  maintenance), now=now)
            ledger = replace(ledger, episode_start=start, episode_id=episode_id)
            return ledger, [_alert("degraded", episode_id, scope, value, now, own, policy,
                                   cause=cause)]
        return ledger, []
    if (due and share < policy.recover_share) or late >= policy.recovery_acks:
        episode_id = ledger.episode_id
        ledger = replace(ledger, episode_start=None, episode_id=None, recovered_bucket=current)
        return ledger, [_alert("resolved", recovery_alert_id(episode_id), scope, value, now, own,
                               policy, resolves=episode_id, late=late)]
    return ledger, []


def _alert(kind: AlertKind, alert_id: str, scope: EvidenceScope, value: str, now: float,
           own: ScopeEvidence, policy: LedgerPolicy, *, cause: Cause | None = None,
           resolves: str | None = None, late: int = 0) -> Alert:
    where = "the platform (every region)" if scope == "platform" else f"{scope} {value}"
    window = format_duration(policy.window_seconds)
    counts = f"{own.unsynced} of {own.due} invoices due in the last {window} unsynced"
    if kind == "degraded":
        message = f"{where} degraded: {counts}"
        if cause is not None:
            message += f"; probable cause {cause.code}: {cause.summary}"
    else:
        message = f"{where} recovered: {counts}, {late} late acks"
    return Alert(
        alert_id=alert_id, kind=kind, severity="critical" if kind == "degraded" else "info",
        invoice_id="", region_code=value if scope == "region_code" else None,
        source_system=value if scope == "source_system" else None, seller_tax_id=None,
        issued_at=None, deadline_at=None, detected_at=now, age_seconds=None, reason_code=None,
        reason=None, latency_seconds=None,
        resolved_alert_ids=() if resolves is None else (resolves,),
        scope=scope, unsynced_count=own.unsynced, due_count=own.due,
        window_seconds=policy.window_seconds, message=message, probable_cause=cause,
        client_version=value if scope == "client_version" else None,
    )


def invoice_evidence(state: InvoiceState, lookup: Callable[[EvidenceScope, str], ScopeEvidence],
                     *, submissions_tracked: bool,
                     maintenance: MaintenanceWindow | None = None) -> Evidence:
    """The evidence :func:`~.causes.invoice_cause` reads for ``state``, from the ledgers'
    summaries (``lookup`` returns NO_EVIDENCE for a scope it does not know)."""
    return Evidence(
        submissions_tracked=submissions_tracked,
        platform=lookup("platform", ""),
        region=lookup("region_code", state.region_code) if state.region_code else NO_EVIDENCE,
        source=lookup("source_system", state.source_system) if state.source_system
        else NO_EVIDENCE,
        client_version=lookup("client_version", state.client) if state.client else NO_EVIDENCE,
        maintenance=maintenance,
    )


def encode_ledger(ledger: ScopeLedger) -> bytes:
    """The table value of a ledger (compact JSON: a few hundred bytes at most)."""
    silence = ledger.silence
    return orjson.dumps({
        "v": 1,
        "b": [[b.index, b.due, b.unsynced, b.late, b.submitted, b.failed, b.answered]
              for b in ledger.buckets],
        "a": ledger.last_answer_at, "u": ledger.unanswered, "us": ledger.unanswered_since,
        "s": None if silence is None else [silence.since, silence.until, silence.submissions],
        "es": ledger.episode_start, "e": ledger.episode_id, "r": ledger.recovered_bucket,
    })


def decode_ledger(data: bytes) -> ScopeLedger:
    """Inverse of :func:`encode_ledger`; raises ValueError on anything else."""
    try:
        doc = orjson.loads(data)
        if doc.get("v") != 1:
            raise ValueError(f"unsupported ledger version {doc.get('v')!r}")
        silence = doc["s"]
        return ScopeLedger(
            buckets=tuple(Bucket(*row) for row in doc["b"]),
            last_answer_at=doc["a"], unanswered=doc["u"], unanswered_since=doc["us"],
            silence=None if silence is None else Silence(*silence),
            episode_start=doc["es"], episode_id=doc["e"], recovered_bucket=doc["r"])
    except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"corrupt scope ledger: {exc}") from exc


def ledger_partition(key: str, partitions: int) -> int:
    """The evidence-topic partition of a ledger key (and so its owner): fixed by the key, so
    every worker sends a scope's observations to the one partition whose owner folds them and
    evaluates the scope's episode on that partition's ticks."""
    return zlib.crc32(key.encode()) % partitions


_KINDS: dict[str, ObservationKind] = {"d": "due", "l": "late", "s": "submitted", "a": "answered"}
_CODES = {kind: code for code, kind in _KINDS.items()}


def encode_runs(found: Sequence[Run]) -> bytes:
    """One evidence-topic value: the runs of observations one worker made of one scope."""
    return orjson.dumps({"v": 1, "r": [[_CODES[r.kind], r.first_at, r.last_at, r.count,
                                        r.unsynced, int(r.failed)] for r in found]})


def decode_runs(data: bytes) -> list[Run]:
    """Inverse of :func:`encode_runs`; raises ValueError on anything else."""
    try:
        doc = orjson.loads(data)
        if doc.get("v") != 1:
            raise ValueError(f"unsupported evidence version {doc.get('v')!r}")
        found = [Run(_KINDS[kind], float(first), float(last), int(count), int(unsynced),
                     bool(failed)) for kind, first, last, count, unsynced, failed in doc["r"]]
    except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"corrupt evidence record: {exc}") from exc
    if any(r.count < 1 or not 0 <= r.unsynced <= r.count for r in found):
        raise ValueError("corrupt evidence record: counts out of range")
    return found


def parse_ledger_key(key: str) -> tuple[EvidenceScope, str]:
    """Inverse of :func:`ledger_key`; raises ValueError on an unknown scope."""
    scope, _, value = key.partition(":")
    if scope not in SCOPES:
        raise ValueError(f"unknown evidence scope {scope!r}")
    return scope, value


SCOPES: tuple[EvidenceScope, ...] = ("platform", "region_code", "source_system", "client_version")
