"""The pure generator: a scenario and a start time in, timed records and ground truth out.

:func:`timeline` yields, in time order, the records to produce (:class:`TimedRecord`) and, just
before the first record of each invoice or malformed record, its ground truth. Memory is
bounded by the records in flight (rate x longest latency), not by the run's length.
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime

import orjson

from pipeline.contracts import CauseCode
from pipeline.correlation.maintenance import MaintenanceCalendar
from pipeline.correlation.sla import SlaRules

from .invoices import BEIJING_TIME, CLIENTS, InvoiceFactory, acknowledgement, submission
from .latency import LatencyModel
from .malformed import draw_malformed
from .outcomes import Attempt, Defer, Fate, expected_alerts
from .parties import REGION_BY_CODE, REGIONS, ack_channel, pick_region, pick_source
from .scenarios import SCENARIOS, Cut, FateContext, Scenario, Window
from .truth import DeadLetterTruth, InvoiceTruth

UNTRACKED_CAUSES: dict[str, CauseCode] = {
    "not_submitted": "unknown",
    "rejected_fields": "rejected_fields",
    "platform_unavailable": "platform_unavailable",
    "platform_maintenance": "platform_maintenance",
}
"""The cause a worker without the submitted topic can name (others are not scored)."""
MIN_GRACE = 0.3
"""A declared window's grace must be at least this x warn_after: the held answers burst out
within 0.1 x warn_after of its end and must come clearly before the deferred deadlines."""

WINDOW_START = 0.25
"""Outage and maintenance windows open a quarter of the way into the issuing span."""


@dataclass(frozen=True, slots=True)
class TimedRecord:
    """A record to produce at ``at`` (epoch seconds) to the topic of ``role``."""

    at: float
    role: str
    key: bytes
    value: bytes


Item = TimedRecord | InvoiceTruth | DeadLetterTruth


@dataclass(frozen=True, slots=True)
class SimulationConfig:
    """What to simulate. ``rate`` is records per second on average (issued, acks and bad
    records together); ``share`` None takes the scenario's default; ``window`` is the length
    of an outage or maintenance window in seconds (None: 2 x the default warn_after)."""

    scenario: str
    count: int
    rate: float
    seed: int
    sla: SlaRules
    latency: LatencyModel
    share: float | None = None
    window: float | None = None
    outage_region: str = "110000"
    canary: bool = True
    #: Produce invoice.submitted records (the worker is told INVOICE_SYNC_TOPIC_SUBMITTED).
    submissions: bool = False
    #: Where network_outage cuts: the platform stops answering, or the company's uploads fail.
    cut: Cut = "platform"
    #: The windows declared to the worker (INVOICE_SYNC_MAINTENANCE_WINDOWS).
    maintenance: MaintenanceCalendar | None = None

    def __post_init__(self) -> None:
        if self.scenario not in SCENARIOS:
            raise ValueError(f"unknown scenario {self.scenario!r}; one of {', '.join(SCENARIOS)}")
        if self.count < 1 or not self.rate > 0:
            raise ValueError("count must be >= 1 and rate > 0")
        if self.share is not None and not 0 <= self.share <= 1:
            raise ValueError("share must be between 0 and 1")
        if self.outage_region not in REGION_BY_CODE:
            raise ValueError(f"outage region must be one of {[r.code for r in REGIONS]}")
        if self.maintenance is not None and self.maintenance.windows and (
                self.maintenance.grace < MIN_GRACE * self.sla.default.warn_after):
            raise ValueError(f"the maintenance grace must be at least {MIN_GRACE:g} x "
                             "warn_after for the simulator to predict the alerts")

    @property
    def kind(self) -> Scenario:
        """The scenario definition."""
        return SCENARIOS[self.scenario]

    @property
    def effective_share(self) -> float:
        """``share``, or the scenario's default."""
        return self.kind.default_share if self.share is None else self.share

    @property
    def issue_interval(self) -> float:
        """Mean seconds between two issued invoices, so records flow at ``rate``."""
        uploads = 1.0 if self.submissions else 0.0
        return (self.kind.events_per_invoice(self.effective_share) + uploads) / self.rate


def invoices_for(duration: float, scenario: str, rate: float, share: float | None = None) -> int:
    """How many invoices issue over ``duration`` seconds at ``rate`` records per second."""
    kind = SCENARIOS[scenario]
    per_invoice = kind.events_per_invoice(kind.default_share if share is None else share)
    return max(1, round(duration * rate / per_invoice))


def _window(config: SimulationConfig, start: float) -> Window | None:
    if config.kind.window is None:
        return None
    if config.kind.window == "all" and config.maintenance is not None:
        # The window declared to the worker is the one that happens (the first platform-wide
        # one not over yet).
        declared = [w for w in config.maintenance.windows
                    if w.scope == "platform" and w.end > start]
        if declared:
            first = min(declared, key=lambda w: w.start)
            return Window(first.start, first.end, None, declared=True)
    opens = start + WINDOW_START * config.count * config.issue_interval
    length = config.window if config.window is not None else 2 * config.sla.default.warn_after
    region = config.outage_region if config.kind.window == "region" else None
    return Window(opens, opens + length, region)


def _defer(config: SimulationConfig, region: str, source: str) -> Defer | None:
    calendar = config.maintenance
    if calendar is None or not calendar.windows:
        return None
    return lambda deadline: calendar.defer(region, source, deadline)[0]


def _expected_cause(config: SimulationConfig, fate: Fate) -> CauseCode | None:
    cause = fate.cause or ("not_submitted" if fate.label == "canary" else None)
    if cause is None or config.submissions:
        return cause
    return UNTRACKED_CAUSES.get(cause)


def _attempts(fate: Fate, rng: random.Random) -> tuple[Attempt, ...]:
    if fate.attempts is not None:
        return fate.attempts
    if not fate.answers:
        return ()
    first = min(answer.after for answer in fate.answers)
    return (Attempt(first * rng.uniform(0.2, 0.8)),)


def timeline(config: SimulationConfig, start: float) -> Iterator[Item]:
    """Every record of the run in time order, each invoice's truth before its records.

    Deterministic for a given ``config`` (including its seed) and ``start``. Invoice numbers
    carry ``seed % 10**6`` in their sequence, so runs with different seeds never collide.
    """
    rng = random.Random(config.seed)
    # Uploads draw from their own generator: fates and payloads of a seed stay what they were
    # without the submitted topic.
    uploads = random.Random(f"{config.seed}/submissions")
    year = datetime.fromtimestamp(start, BEIJING_TIME).year
    factory = InvoiceFactory(rng, serial_base=(config.seed % 10**6) * 10**9, year=year)
    window = _window(config, start)
    share = config.effective_share
    pending: list[tuple[float, int, TimedRecord]] = []
    order = itertools.count()

    def later(at: float, role: str, key: bytes, value: bytes) -> None:
        heapq.heappush(pending, (at, next(order), TimedRecord(at, role, key, value)))

    issued_at = start
    for index in range(config.count):
        if index:
            issued_at += rng.expovariate(1.0 / config.issue_interval)
        while pending and pending[0][0] <= issued_at:
            yield heapq.heappop(pending)[2]
        region = pick_region(rng)
        source = pick_source(rng, region)
        thresholds = config.sla.for_invoice(region.code, source)
        if index == 0 and config.canary:
            fate = Fate("canary")  # never acknowledged: proves the worker is alive and caught up
        else:
            fate = config.kind.draw(FateContext(rng, issued_at, region.code, thresholds,
                                                config.latency, share, window, config.cut))
        event = factory.issued(region, source, issued_at)
        invoice_id = event["invoice_id"]
        expect = tuple(expected_alerts(fate, issued_at, thresholds,
                                       _defer(config, region.code, source)))
        yield InvoiceTruth(invoice_id, fate.label, region.code, source, issued_at,
                           thresholds.warn_after, thresholds.critical_after, expect,
                           _expected_cause(config, fate) if expect else None)
        key = invoice_id.encode()
        value = orjson.dumps(event)
        for _ in range(fate.issued_copies):
            later(issued_at + fate.issued_delay, "issued", key, value)
        if config.submissions:
            _uploads(uploads, fate, invoice_id, issued_at, later)
        for answer in fate.answers:
            ack = orjson.dumps(acknowledgement(
                rng, invoice_id, status=answer.status, acknowledged_at=issued_at + answer.after,
                channel=ack_channel(region), reason=answer.reason))
            for _ in range(answer.copies):
                later(issued_at + answer.after, "acknowledged", key, ack)
        if config.kind.malformed and rng.random() < share:
            yield _malformed(rng, factory, issued_at, later)
    while pending:
        yield heapq.heappop(pending)[2]


def _uploads(rng: random.Random, fate: Fate, invoice_id: str, issued_at: float,
             later: Callable[[float, str, bytes, bytes], None]) -> None:
    name, version, _ = rng.choice(CLIENTS)
    client = fate.client or f"{name}/{version}"
    key = invoice_id.encode()
    for number, attempt in enumerate(_attempts(fate, rng), start=1):
        value = orjson.dumps(submission(rng, invoice_id, submitted_at=issued_at + attempt.after,
                                        client=client, attempt=number,
                                        transport_error=attempt.error))
        later(issued_at + attempt.after, "submitted", key, value)


def _malformed(rng: random.Random, factory: InvoiceFactory, at: float,
               later: Callable[[float, str, bytes, bytes], None]) -> DeadLetterTruth:
    region = pick_region(rng)
    if rng.random() < 0.6:
        role, event = "issued", factory.issued(region, pick_source(rng, region), at)
    else:
        role, event = "acknowledged", acknowledgement(
            rng, factory.next_number(region), status="accepted", acknowledged_at=at,
            channel=ack_channel(region))
    bad = draw_malformed(rng, role, event)
    later(at, bad.role, bad.key, bad.value)
    return DeadLetterTruth(bad.key.decode(), bad.role, bad.reason, bad.defect, bad.invoice_id)
