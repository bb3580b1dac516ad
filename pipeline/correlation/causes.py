"""Why an invoice is not acknowledged: the probable cause named on ``unsynced`` and ``degraded``.

Pure rules. Each takes what the invoice's record keeps (its last upload attempt, last answer,
whether a deadline was deferred by maintenance) and the evidence about the scopes it belongs to
(platform, region, source system, client version, channel), aggregated by the adapter for the
whole worker group and passed in. Rules are tried in a fixed order and the first that decides
wins; docs/causes.md gives each cause's evidence, its limits and whom to call.

Order, most specific first::

    platform_maintenance  deadline deferred past a declared window, or it waited through one
                          (not when submissions are tracked and it was never uploaded)
    client_version        its client version is mostly unsynced while the other versions sync
    rejected_fields       the last answer was a rejection (reason code and text)
    submission_failed     the last upload attempt never reached the platform
    source_outage         its source system is mostly unsynced while the rest of its region syncs
                          (and, when submissions are tracked, this invoice was never submitted)
    platform_unavailable  acks stopped for its region (or everywhere) while it was submitted
    not_submitted         submissions are tracked and none was seen for this invoice
    awaiting_platform     submitted, reached the platform, no answer yet
    unknown               submissions are not tracked and no scope evidence decides
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from .durations import format_duration
from .frozen import quick_init
from .maintenance import MaintenanceWindow
from .state import InvoiceState

CauseCode = Literal[
    "not_submitted",
    "submission_failed",
    "awaiting_platform",
    "platform_unavailable",
    "platform_maintenance",
    "source_outage",
    "client_version",
    "rejected_fields",
    "unknown",
]
CAUSE_CODES: tuple[CauseCode, ...] = (
    "not_submitted", "submission_failed", "awaiting_platform", "platform_unavailable",
    "platform_maintenance", "source_outage", "client_version", "rejected_fields", "unknown")
EvidenceValue = str | int | float | bool
EvidenceScope = Literal["region_code", "source_system", "platform", "client_version"]


@dataclass(frozen=True, slots=True)
class Cause:
    """A probable cause: a code, one line for a person, and the facts it rests on. Evidence
    keys ending in ``_at`` hold epoch seconds (ISO 8601 on the wire)."""

    code: CauseCode
    summary: str
    evidence: tuple[tuple[str, EvidenceValue], ...] = ()

    def evidence_dict(self) -> dict[str, EvidenceValue]:
        """The evidence as a mapping (the alert's wire form)."""
        return dict(self.evidence)


@quick_init
@dataclass(frozen=True, slots=True)
class Silence:
    """A spell in which a scope's uploads got no acknowledgement at all: from ``since`` (the
    last ack before it) to ``until`` (the first ack after it; None while it lasts), during which
    ``submissions`` uploads reached the platform (issued invoices when submissions are not
    tracked)."""

    since: float
    until: float | None
    submissions: int

    def overlaps(self, since: float, until: float) -> bool:
        """The spell overlaps ``[since, until]``: an invoice uploaded at ``since`` (or issued,
        untracked) and still unanswered at ``until`` waited through it."""
        return self.since <= until and (self.until is None or self.until > since)


@dataclass(frozen=True, slots=True)
class ScopeEvidence:
    """What the group saw of one scope value in the outage window: warning deadlines that fell
    due and how many of those were unsynced, upload attempts and how many failed in transport,
    the latest ack silence, and how many answers (any status) the platform gave."""

    due: int = 0
    unsynced: int = 0
    submitted: int = 0
    failed: int = 0
    silence: Silence | None = None
    answered: int = 0

    @property
    def reached(self) -> int:
        """Uploads that reached the platform (did not fail in transport)."""
        return max(0, self.submitted - self.failed)

    @property
    def share(self) -> float:
        """Unsynced / due (0 with nothing due)."""
        return self.unsynced / self.due if self.due else 0.0

    def minus(self, part: ScopeEvidence) -> ScopeEvidence:
        """This scope without ``part`` (e.g. the region without one of its source systems)."""
        return ScopeEvidence(max(0, self.due - part.due), max(0, self.unsynced - part.unsynced),
                             max(0, self.submitted - part.submitted),
                             max(0, self.failed - part.failed),
                             answered=max(0, self.answered - part.answered))


NO_EVIDENCE = ScopeEvidence()


@dataclass(frozen=True, slots=True)
class Evidence:
    """Everything the rules may look at beside the record, for one invoice."""

    submissions_tracked: bool = False
    platform: ScopeEvidence = NO_EVIDENCE
    region: ScopeEvidence = NO_EVIDENCE
    source: ScopeEvidence = NO_EVIDENCE
    client_version: ScopeEvidence = NO_EVIDENCE
    #: The declared window this invoice's deadline was deferred past, or that covers it now.
    maintenance: MaintenanceWindow | None = None


@dataclass(frozen=True, slots=True)
class CausePolicy:
    """When a scope counts as degraded (``min_due`` due, ``share`` unsynced), as healthy (less
    than ``healthy_share`` unsynced, with at least ``min_due`` due), and how many uploads and how
    long an ack silence needs before it says the platform stopped answering (a busy scope sees
    short gaps between answers all the time)."""

    min_due: int = 20
    share: float = 0.5
    healthy_share: float = 0.2
    min_silent_submissions: int = 5
    min_silence_seconds: float = 60.0

    def degraded(self, scope: ScopeEvidence) -> bool:
        """Enough due and mostly unsynced."""
        return scope.due >= self.min_due and scope.share >= self.share

    def healthy(self, scope: ScopeEvidence) -> bool:
        """Enough due and nearly all synced."""
        return scope.due >= self.min_due and scope.share < self.healthy_share

    def ignored(self, mine: ScopeEvidence, others: ScopeEvidence) -> bool:
        """Uploads from ``mine`` go unanswered while the others' are answered: decided long
        before their deadlines are (answers come within the latency, deadlines after
        warn_after)."""
        return (mine.reached >= self.min_silent_submissions
                and mine.answered < self.healthy_share * mine.reached
                and others.reached >= self.min_due
                and others.answered >= (1 - self.share) * others.reached)

    def silent_at(self, scope: ScopeEvidence, at: float, now: float) -> Silence | None:
        """The scope's ack silence, if one long enough (as of ``now``) overlaps the wait of an
        invoice uploaded at ``at`` and unanswered at ``now``."""
        silence = scope.silence
        if silence is None or silence.submissions < self.min_silent_submissions:
            return None
        if (silence.until if silence.until is not None else now) - silence.since < (
                self.min_silence_seconds):
            return None
        return silence if silence.overlaps(at, now) else None


DEFAULT_POLICY = CausePolicy()

_Rule = Callable[[InvoiceState, Evidence, CausePolicy, float], "Cause | None"]


def invoice_cause(state: InvoiceState, evidence: Evidence, *, now: float,
                  policy: CausePolicy = DEFAULT_POLICY) -> Cause:
    """The probable cause of one unsynced invoice (the first rule that decides)."""
    for rule in _RULES:
        cause = rule(state, evidence, policy, now)
        if cause is not None:
            return cause
    return Cause("unknown", "not decidable: submissions are not tracked (set "
                 "INVOICE_SYNC_TOPIC_SUBMITTED) and no region or source is degraded",
                 (("submissions_tracked", evidence.submissions_tracked),))


def _maintenance(state: InvoiceState, evidence: Evidence, policy: CausePolicy,
                 now: float) -> Cause | None:
    window = evidence.maintenance
    if window is None or (evidence.submissions_tracked and not state.is_submitted):
        return None  # an invoice never uploaded was not waiting on the platform
    return window_cause(window, now)


def window_cause(window: MaintenanceWindow, now: float) -> Cause:
    """platform_maintenance naming a declared window."""
    where = {"platform": "every region", "region_code": f"region {window.region_code}",
             "source_system": f"source system {window.source_system}"}[window.scope]
    until = format_duration(abs(window.end - now))
    when = f"ends in {until}" if now < window.end else f"ended {until} ago"
    summary = (f"declared maintenance window {window.window_id} for {where} "
               f"({format_duration(window.end - window.start)}, {when})")
    evidence: list[tuple[str, EvidenceValue]] = [
        ("window_id", window.window_id), ("window_starts_at", window.start),
        ("window_ends_at", window.end), ("window_scope", window.scope)]
    if window.region_code is not None:
        evidence.append(("region_code", window.region_code))
    if window.source_system is not None:
        evidence.append(("source_system", window.source_system))
    if window.reason:
        evidence.append(("reason", window.reason))
    return Cause("platform_maintenance", summary, tuple(evidence))


def _counts(prefix: str, scope: ScopeEvidence) -> list[tuple[str, EvidenceValue]]:
    return [(f"{prefix}_due", scope.due), (f"{prefix}_unsynced", scope.unsynced)]


def _client_version(state: InvoiceState, evidence: Evidence, policy: CausePolicy,
                    now: float) -> Cause | None:
    if state.client is None:
        return None
    mine = evidence.client_version
    others = evidence.platform.minus(mine)
    if policy.degraded(mine) and policy.healthy(others):
        summary = (f"client {state.client}: {mine.unsynced} of {mine.due} of its invoices "
                   f"unsynced, other client versions {others.unsynced} of {others.due}")
    elif evidence.submissions_tracked and policy.ignored(mine, others):
        summary = (f"client {state.client}: {mine.answered} answers to {mine.reached} uploads, "
                   f"other client versions {others.answered} to {others.reached}")
    else:
        return None
    return Cause("client_version", summary, (
        ("client", state.client), *_counts("version", mine), *_counts("other_versions", others),
        ("version_uploads", mine.reached), ("version_answers", mine.answered),
        ("other_versions_uploads", others.reached), ("other_versions_answers", others.answered)))


def _rejected(state: InvoiceState, evidence: Evidence, policy: CausePolicy,
              now: float) -> Cause | None:
    if state.ack_status != "rejected":
        return None
    code = state.reason_code or "no code"
    summary = f"rejected by the tax platform: {code}" + (f" {state.reason}" if state.reason else "")
    facts: list[tuple[str, EvidenceValue]] = [("reason_code", state.reason_code or "")]
    if state.reason:
        facts.append(("reason", state.reason))
    if state.acknowledged_at is not None:
        facts.append(("rejected_at", state.acknowledged_at))
    return Cause("rejected_fields", summary, tuple(facts))


def _upload_facts(state: InvoiceState) -> list[tuple[str, EvidenceValue]]:
    facts: list[tuple[str, EvidenceValue]] = [("attempts", state.attempts)]
    if state.submitted_at is not None:
        facts.append(("last_attempt_at", state.submitted_at))
    if state.channel is not None:
        facts.append(("channel", state.channel))
    if state.client is not None:
        facts.append(("client", state.client))
    return facts


def _submission_failed(state: InvoiceState, evidence: Evidence, policy: CausePolicy,
                       now: float) -> Cause | None:
    if not evidence.submissions_tracked or state.transport_error is None:
        return None
    ago = format_duration(now - (state.submitted_at or now))
    summary = (f"upload failed before reaching the platform: attempt {state.attempts} over "
               f"{state.channel} {ago} ago: {state.transport_error}")
    return Cause("submission_failed", summary,
                 (*_upload_facts(state), ("transport_error", state.transport_error)))


def _source_outage(state: InvoiceState, evidence: Evidence, policy: CausePolicy,
                   now: float) -> Cause | None:
    if evidence.submissions_tracked and state.is_submitted:
        return None  # it was uploaded: the source system is not what is silent
    source, rest = evidence.source, evidence.region.minus(evidence.source)
    if not (policy.degraded(source) and policy.healthy(rest)):
        return None
    summary = (f"source system {state.source_system} silent: {source.unsynced} of {source.due} "
               f"of its invoices unsynced while the rest of region {state.region_code} syncs "
               f"({rest.unsynced} of {rest.due})")
    facts = [("source_system", state.source_system or ""), *_counts("source", source),
             *_counts("region_others", rest)]
    if evidence.submissions_tracked:
        facts.append(("source_submitted", source.submitted))
    return Cause("source_outage", summary, tuple(facts))


def _platform_unavailable(state: InvoiceState, evidence: Evidence, policy: CausePolicy,
                          now: float) -> Cause | None:
    if evidence.submissions_tracked and not state.is_submitted:
        return None
    at = state.submitted_at if state.is_submitted and state.submitted_at is not None else (
        state.issued_at or now)
    for name, scope in (("platform", evidence.platform), ("region", evidence.region)):
        silence = policy.silent_at(scope, at, now)
        where = "every region" if name == "platform" else f"region {state.region_code}"
        if silence is not None:
            span = "so far" if silence.until is None else "in all"
            summary = (f"acknowledgements stopped for {where}: none for "
                       f"{format_duration((silence.until or now) - silence.since)} {span} while "
                       f"{silence.submissions} uploads went in")
            facts: list[tuple[str, EvidenceValue]] = [
                ("scope", name), ("silence_started_at", silence.since),
                ("silent_submissions", silence.submissions)]
            if silence.until is not None:
                facts.append(("silence_ended_at", silence.until))
            return Cause("platform_unavailable", summary, (*facts, *_upload_facts(state)))
        if policy.degraded(scope) and not policy.healthy(scope.minus(evidence.source)):
            summary = (f"{where} degraded: {scope.unsynced} of {scope.due} invoices due unsynced "
                       "across its source systems")
            return Cause("platform_unavailable", summary,
                         (("scope", name), *_counts(name, scope), *_upload_facts(state)))
    return None


def _not_submitted(state: InvoiceState, evidence: Evidence, policy: CausePolicy,
                   now: float) -> Cause | None:
    if not evidence.submissions_tracked or state.is_submitted:
        return None
    summary = (f"no upload attempt seen since it was issued "
               f"{format_duration(now - (state.issued_at or now))} ago: not submitted "
               f"(forgotten, tax device unplugged, uploader not running)")
    return Cause("not_submitted", summary, (
        ("source_system", state.source_system or ""),
        ("source_submitted", evidence.source.submitted)))


def _awaiting(state: InvoiceState, evidence: Evidence, policy: CausePolicy,
              now: float) -> Cause | None:
    if not evidence.submissions_tracked or not state.is_submitted:
        return None
    ago = format_duration(now - (state.submitted_at or now))
    summary = (f"uploaded {ago} ago (attempt {state.attempts} over {state.channel}), "
               "no answer from the platform yet")
    return Cause("awaiting_platform", summary, tuple(_upload_facts(state)))


_RULES: tuple[_Rule, ...] = (
    _maintenance, _client_version, _rejected, _submission_failed, _source_outage,
    _platform_unavailable, _not_submitted, _awaiting)


@dataclass(frozen=True, slots=True)
class EpisodeEvidence:
    """What decides the cause of a ``degraded`` episode of one scope value: the scope's own
    evidence, its parent's (the region of a source system; the platform of a region or a client
    version), and a declared window covering the scope now."""

    scope: EvidenceScope
    value: str
    own: ScopeEvidence
    parent: ScopeEvidence = field(default=NO_EVIDENCE)
    submissions_tracked: bool = False
    maintenance: MaintenanceWindow | None = None


def episode_cause(evidence: EpisodeEvidence, *, now: float,
                  policy: CausePolicy = DEFAULT_POLICY) -> Cause:
    """The probable cause of a degraded region, source system, client version or platform."""
    own, scope, value = evidence.own, evidence.scope, evidence.value
    counts = (("scope", scope), ("value", value), *_counts("scope", own))
    if evidence.maintenance is not None:
        return window_cause(evidence.maintenance, now)
    if scope == "client_version":
        others = evidence.parent.minus(own)
        return Cause("client_version", f"client {value}: {own.unsynced} of {own.due} unsynced, "
                     f"other versions {others.unsynced} of {others.due}",
                     (*counts, *_counts("other_versions", others)))
    if evidence.submissions_tracked and own.submitted and own.failed * 2 >= own.submitted:
        return Cause("submission_failed", f"{scope} {value}: {own.failed} of {own.submitted} "
                     "uploads failed before reaching the platform",
                     (*counts, ("submitted", own.submitted), ("failed", own.failed)))
    rest = evidence.parent.minus(own)
    if scope == "source_system" and (policy.healthy(rest) or (
            evidence.submissions_tracked and own.submitted == 0)):
        return Cause("source_outage", f"source system {value} silent: {own.unsynced} of "
                     f"{own.due} unsynced while the rest of its region syncs "
                     f"({rest.unsynced} of {rest.due})",
                     (*counts, *_counts("region_others", rest), ("submitted", own.submitted)))
    silence = own.silence
    if silence is not None and silence.until is None and (
            silence.submissions >= policy.min_silent_submissions):
        return Cause("platform_unavailable", f"{scope} {value}: no acknowledgement for "
                     f"{format_duration(now - silence.since)} while {silence.submissions} "
                     "uploads went in",
                     (*counts, ("silence_started_at", silence.since),
                      ("silent_submissions", silence.submissions)))
    if evidence.submissions_tracked and own.submitted == 0:
        return Cause("not_submitted", f"{scope} {value}: no uploads at all in the window",
                     (*counts, ("submitted", 0)))
    if evidence.submissions_tracked and scope in ("region_code", "platform"):
        return Cause("platform_unavailable", f"{scope} {value}: {own.unsynced} of {own.due} "
                     f"uploaded invoices unanswered", (*counts, ("submitted", own.submitted)))
    return Cause("unknown", f"{scope} {value}: {own.unsynced} of {own.due} unsynced; the "
                 "evidence does not decide why", counts)
