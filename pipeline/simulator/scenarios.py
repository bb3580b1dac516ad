"""Named scenarios: the real causes of missing acknowledgements, as invoice fates.

A scenario draws each invoice's :class:`~.outcomes.Fate`; ``share`` is the fraction of
invoices it affects (scenarios with a time window ignore it). Everything not affected is
acknowledged in time, with a latency from the run's :class:`~.latency.LatencyModel`.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from pipeline.correlation.sla import Thresholds

from .invoices import REJECTIONS
from .latency import IN_TIME, LATE, LatencyModel, clear_of_thresholds, late
from .outcomes import Answer, Attempt, Fate

OLD_CLIENT = "aisino-leqi/2.9.0"
"""The uploader version the platform no longer answers (outdated_client)."""
TRANSPORT_ERRORS = ("connect timeout after 10s", "connection reset by peer",
                    "TLS handshake failed", "502 Bad Gateway from proxy")
LOST_SHARE = 0.2
"""Of the invoices held by a declared maintenance window, the share the upgrade loses."""
Cut = Literal["platform", "company"]


@dataclass(frozen=True, slots=True)
class Window:
    """Acknowledgements due in ``[start, end)`` (epoch seconds) are held until ``end`` (plus a
    burst spread), for ``region_code`` or, when None, for every region."""

    start: float
    end: float
    region_code: str | None = None
    declared: bool = False  # declared to the worker (INVOICE_SYNC_MAINTENANCE_WINDOWS)

    def contains(self, at: float) -> bool:
        """``at`` lies inside the window."""
        return self.start <= at < self.end


@dataclass(frozen=True, slots=True)
class FateContext:
    """What a scenario may look at when deciding one invoice's fate."""

    rng: random.Random
    issued_at: float
    region_code: str
    thresholds: Thresholds
    latency: LatencyModel
    share: float
    window: Window | None
    cut: Cut = "platform"


def in_time(ctx: FateContext) -> Fate:
    """Accepted before 0.6 x warn_after: must not alert."""
    return Fate("in_time", (Answer(ctx.latency.in_time(ctx.rng, ctx.thresholds), "accepted"),))


def _affected(ctx: FateContext) -> bool:
    return ctx.rng.random() < ctx.share


def _forgotten(ctx: FateContext) -> Fate:
    # Forgotten, device unplugged, upload lost: the platform never answers.
    return Fate("never_submitted", cause="not_submitted") if _affected(ctx) else in_time(ctx)


def _incomplete(ctx: FateContext) -> Fate:
    if not _affected(ctx):
        return in_time(ctx)
    rng, thresholds = ctx.rng, ctx.thresholds
    rejection = Answer(ctx.latency.in_time(rng, thresholds), "rejected", rng.choice(REJECTIONS))
    if rng.random() < 0.5:
        return Fate("rejected", (rejection,), cause="rejected_fields")
    # Corrected and resubmitted, accepted only after the warning deadline.
    return Fate("rejected_then_fixed", (rejection, Answer(late(rng, thresholds), "accepted")),
                cause="rejected_fields")


def _duplicated(ctx: FateContext) -> Fate:
    if not _affected(ctx):
        return in_time(ctx)
    rng, thresholds = ctx.rng, ctx.thresholds
    accepted = ctx.latency.in_time(rng, thresholds)
    variant = rng.randrange(3)
    if variant == 0:  # the billing system's outbox re-sends the issued event
        return Fate("issued_twice", (Answer(accepted, "accepted"),), issued_copies=2)
    if variant == 1:  # the platform's answer is delivered twice
        return Fate("ack_twice", (Answer(accepted, "accepted", copies=2),))
    # Resubmitted by an operator: the platform answers "duplicate" (counts as accepted).
    again = accepted + rng.uniform(0.0, IN_TIME * thresholds.warn_after)
    return Fate("resubmitted", (Answer(accepted, "accepted"), Answer(again, "duplicate")))


def _out_of_order(ctx: FateContext) -> Fate:
    if not _affected(ctx):
        return in_time(ctx)
    rng, warn = ctx.rng, ctx.thresholds.warn_after
    # The acknowledgement comes before the issued event (a slow outbox); both well in time.
    accepted = ctx.latency.in_time(rng, ctx.thresholds) / 2
    delay = accepted + rng.uniform(0.05, 0.25) * warn
    return Fate("ack_first", (Answer(accepted, "accepted"),), issued_delay=delay)


def _held(ctx: FateContext) -> Fate:
    """Acks stop inside the window (one region, or all), then come out in a burst.

    The cut on the company's side (``cut="company"``) stops uploads instead: invoices uploaded
    inside the window fail in transport (once or twice), are uploaded again after it and then
    answered. A declared maintenance window loses LOST_SHARE of the invoices it holds."""
    fate = in_time(ctx)
    window = ctx.window
    if window is None or (window.region_code is not None
                          and window.region_code != ctx.region_code):
        return fate
    if ctx.cut == "company":
        return _cut_upload(ctx, fate, window)
    answered = ctx.issued_at + fate.answers[0].after
    if not window.start <= answered < window.end:
        return fate
    burst = ctx.rng.uniform(0.0, 0.1 * ctx.thresholds.warn_after)
    held = clear_of_thresholds(window.end + burst - ctx.issued_at, ctx.thresholds)
    if window.declared:
        if window.contains(ctx.issued_at + ctx.thresholds.warn_after):
            # The warning is deferred past the window: the burst comes before it, unless the
            # critical deadline's guard band pushes the answer later.
            critical = ctx.thresholds.critical_after
            held = window.end + burst - ctx.issued_at
            if IN_TIME * critical <= held <= LATE * critical:
                held = LATE * critical * 1.02
        upload = (Attempt(fate.answers[0].after / 2),)
        if ctx.rng.random() < LOST_SHARE:
            return Fate("lost_in_maintenance", attempts=upload, cause="platform_maintenance")
        return Fate("held", (Answer(held, "accepted"),), attempts=upload,
                    cause="platform_maintenance")
    # Uploaded as usual, halfway to the answer it should have had.
    return Fate("held", (Answer(held, "accepted"),), attempts=(Attempt(fate.answers[0].after / 2),),
                cause="platform_unavailable")


def _cut_upload(ctx: FateContext, fate: Fate, window: Window) -> Fate:
    latency = fate.answers[0].after
    uploaded = latency / 2  # a normal upload halfway to the answer
    if not window.start <= ctx.issued_at + uploaded < window.end:
        return fate
    rng, warn = ctx.rng, ctx.thresholds.warn_after
    failed = [Attempt(uploaded, rng.choice(TRANSPORT_ERRORS))]
    retry = uploaded + 0.1 * warn
    if ctx.issued_at + retry < window.end and retry < IN_TIME * warn:
        failed.append(Attempt(retry, rng.choice(TRANSPORT_ERRORS)))
    burst = rng.uniform(0.0, 0.1 * warn)
    answered = clear_of_thresholds(window.end + burst + latency / 2 - ctx.issued_at,
                                   ctx.thresholds)
    success = Attempt(answered - latency / 2)  # uploaded again after the cut, then answered
    return Fate("upload_cut", (Answer(answered, "accepted"),), attempts=(*failed, success),
                cause="submission_failed")


def _outdated(ctx: FateContext) -> Fate:
    """An uploader the platform no longer answers: uploads go in, nothing comes back."""
    if not _affected(ctx):
        return in_time(ctx)
    uploaded = ctx.latency.in_time(ctx.rng, ctx.thresholds) / 2
    return Fate("outdated_client", attempts=(Attempt(uploaded),), client=OLD_CLIENT,
                cause="client_version")


@dataclass(frozen=True, slots=True)
class Scenario:
    """A named cause: how it draws fates, its default share, and ``extra_records``, the
    records an affected invoice adds to (or, negative, removes from) the usual two."""

    name: str
    summary: str
    draw: Callable[[FateContext], Fate]
    default_share: float = 0.0
    extra_records: float = 0.0
    window: str | None = None  # "region" or "all" for held acknowledgements
    malformed: bool = False

    def events_per_invoice(self, share: float) -> float:
        """Mean records per invoice (issued + acknowledgements + bad records)."""
        return 2.0 + self.extra_records * share


SCENARIOS: dict[str, Scenario] = {s.name: s for s in (
    Scenario("healthy", "every invoice acknowledged in time", in_time),
    Scenario("network_outage", "one region's acks stop for a window, then burst", _held,
             window="region"),
    Scenario("maintenance_window", "platform maintenance: all acks delayed, then burst", _held,
             window="all"),
    Scenario("incomplete_fields", "a share rejected with reason codes; half fixed late",
             _incomplete, 0.1, 0.5),
    Scenario("forgotten_submission", "a share never acknowledged", _forgotten, 0.1,
             -1.0),
    Scenario("duplicates", "a share issued twice, acked twice, or resubmitted", _duplicated,
             0.2, 1.0),
    Scenario("out_of_order", "a share acknowledged before the issued event arrives",
             _out_of_order, 0.2),
    Scenario("malformed", "a share of extra records are bad bytes or break the contract",
             in_time, 0.05, 1.0, malformed=True),
    Scenario("outdated_client", "a share uploaded by a client version the platform ignores",
             _outdated, 0.2, -1.0),
)}
