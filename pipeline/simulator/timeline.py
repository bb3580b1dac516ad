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

from pipeline.correlation.sla import SlaRules

from .invoices import BEIJING_TIME, InvoiceFactory, acknowledgement
from .latency import LatencyModel
from .malformed import draw_malformed
from .outcomes import Fate, expected_alerts
from .parties import REGION_BY_CODE, REGIONS, ack_channel, pick_region, pick_source
from .scenarios import SCENARIOS, FateContext, Scenario, Window
from .truth import DeadLetterTruth, InvoiceTruth

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

    def __post_init__(self) -> None:
        if self.scenario not in SCENARIOS:
            raise ValueError(f"unknown scenario {self.scenario!r}; one of {', '.join(SCENARIOS)}")
        if self.count < 1 or not self.rate > 0:
            raise ValueError("count must be >= 1 and rate > 0")
        if self.share is not None and not 0 <= self.share <= 1:
            raise ValueError("share must be between 0 and 1")
        if self.outage_region not in REGION_BY_CODE:
            raise ValueError(f"outage region must be one of {[r.code for r in REGIONS]}")

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
        return self.kind.events_per_invoice(self.effective_share) / self.rate


def invoices_for(duration: float, scenario: str, rate: float, share: float | None = None) -> int:
    """How many invoices issue over ``duration`` seconds at ``rate`` records per second."""
    kind = SCENARIOS[scenario]
    per_invoice = kind.events_per_invoice(kind.default_share if share is None else share)
    return max(1, round(duration * rate / per_invoice))


def _window(config: SimulationConfig, start: float) -> Window | None:
    if config.kind.window is None:
        return None
    opens = start + WINDOW_START * config.count * config.issue_interval
    length = config.window if config.window is not None else 2 * config.sla.default.warn_after
    region = config.outage_region if config.kind.window == "region" else None
    return Window(opens, opens + length, region)


def timeline(config: SimulationConfig, start: float) -> Iterator[Item]:
    """Every record of the run in time order, each invoice's truth before its records.

    Deterministic for a given ``config`` (including its seed) and ``start``. Invoice numbers
    carry ``seed % 10**6`` in their sequence, so runs with different seeds never collide.
    """
    rng = random.Random(config.seed)
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
                                                config.latency, share, window))
        event = factory.issued(region, source, issued_at)
        invoice_id = event["invoice_id"]
        yield InvoiceTruth(invoice_id, fate.label, region.code, source, issued_at,
                           thresholds.warn_after, thresholds.critical_after,
                           tuple(expected_alerts(fate, issued_at, thresholds)))
        key = invoice_id.encode()
        value = orjson.dumps(event)
        for _ in range(fate.issued_copies):
            later(issued_at + fate.issued_delay, "issued", key, value)
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
