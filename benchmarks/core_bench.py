"""Micro-benchmark of the worker's per-event CPU outside faust and Kafka: CPU µs per event.

``python -m benchmarks.core_bench [--events N] [--repeat R]``. Stages, each over N distinct
events of the benchmark's own data (``benchmarks.data``):

- ``intake issued``: :func:`pipeline.intake.classify` of a valid issued record;
- ``to_issued``: the contract event to the core's facts (pipeline/worker/wire.py);
- ``on_issued``: :meth:`Correlator.on_issued` into a dict table (rules, encode, the deadline
  index and the pending book), a fresh table each pass;
- ``on_ack``: :meth:`Correlator.on_ack` of an acceptance of each of those invoices;
- ``process issued``: the batched worker's whole per-record path without Kafka and RocksDB:
  :meth:`BatchProcessor._process` of each issued record (intake, wire, correlator into a dict
  table, the evidence outbox, the events counter), a fresh table each pass;
- ``decode``: :func:`pipeline.correlation.state.decode` of a pending record;
- ``rebuild``: :meth:`Correlator.rebuild_slice` and :meth:`Correlator.finish_rebuild` per
  record (the indexed fields read, deadline, pending book, the sort), what a restart does for
  every record of its table.

Each figure is CPU time (process_time, steadier than wall time on a shared machine), the best
of R passes (the least disturbed by other work on the machine), the
median in brackets. No broker needed; the figures guide changes, ``make bench`` gates them.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from benchmarks.data import ack_record, issued_record
from pipeline.correlation.alerts import Alert
from pipeline.correlation.evidence import LedgerPolicy
from pipeline.correlation.facts import Ack, Issued
from pipeline.correlation.ratelimit import TokenBucket
from pipeline.correlation.sla import SlaRules, Thresholds
from pipeline.correlation.state import decode
from pipeline.intake import Accepted, classify
from pipeline.metrics import Metrics
from pipeline.settings import load_settings
from pipeline.worker.correlator import Correlator
from pipeline.worker.ledgers import EvidenceOutbox
from pipeline.worker.outputs import Outputs
from pipeline.worker.processor import BatchProcessor
from pipeline.worker.wire import to_ack, to_issued

STAMP = "2026-12-01T10:00:00+00:00"
NOW = 1_796_000_000.0


async def _no_alerts(alerts: Sequence[Alert]) -> None:
    return None


def _correlator(store: dict[str, bytes]) -> Correlator:
    return Correlator(store=store, sla=SlaRules(default=Thresholds(3600.0, 14400.0)),
                      emit=_no_alerts, drain=TokenBucket(100.0, 100),
                      clock=lambda: NOW)


@dataclass(frozen=True, slots=True)
class _Record:
    """What the processor reads of an aiokafka ConsumerRecord."""

    topic: str
    partition: int
    offset: int
    key: bytes
    value: bytes


def _processor() -> BatchProcessor:
    """A worker's processor over a dict table (the store and batch hooks are not used by
    ``_process``), with the worker's evidence outbox (never flushed here)."""
    settings = load_settings()
    metrics = Metrics()
    evidence = EvidenceOutbox(None, settings.partitions, LedgerPolicy())
    correlator = Correlator(store={}, sla=SlaRules(default=Thresholds(3600.0, 14400.0)),
                            emit=_no_alerts, drain=TokenBucket(100.0, 100), clock=lambda: NOW,
                            observe=evidence.add)
    return BatchProcessor(settings=settings, metrics=metrics, correlator=correlator,
                          store=cast(Any, None), in_hand=cast(Any, None),
                          outputs=Outputs(None, None, metrics, settings.app_id),
                          committed_ack_offset=lambda partition: None,
                          request_sample=lambda partitions: None, evidence=evidence)


def _best(run: Callable[[], float], repeat: int) -> tuple[float, float]:
    passes = [run() for _ in range(repeat)]
    return min(passes), statistics.median(passes)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.core_bench",
                                description=__doc__.split("\n")[0])
    p.add_argument("--events", type=int, default=20_000)
    p.add_argument("--repeat", type=int, default=7)
    args = p.parse_args(argv)
    n: int = args.events
    records = [issued_record(seq, STAMP, f"{110000 + (seq % 40) * 100}") for seq in range(n)]
    acks = [ack_record(key.decode(), STAMP) for key, _ in records]
    events = []
    for key, value in records:
        verdict = classify("issued", key, value)
        assert isinstance(verdict, Accepted)
        events.append(verdict.event)
    issued: list[Issued] = [to_issued(event) for event in events]
    acked: list[Ack] = []
    for key, value in acks:
        verdict_ack = classify("acknowledged", key, value)
        assert isinstance(verdict_ack, Accepted)
        acked.append(to_ack(verdict_ack.event))
    loop = asyncio.new_event_loop()
    filled: dict[str, bytes] = {}

    def per_event(started: float) -> float:
        return (time.process_time() - started) / n * 1e6

    def intake() -> float:
        started = time.process_time()
        for key, value in records:
            classify("issued", key, value)
        return per_event(started)

    def wire() -> float:
        started = time.process_time()
        for event in events:
            to_issued(event)
        return per_event(started)

    async def issue_all(c: Correlator) -> None:
        for fact in issued:
            await c.on_issued(fact, 0)

    async def ack_all(c: Correlator) -> None:
        for fact in acked:
            await c.on_ack(fact, 0)
            c.on_ack_read(0, 0)

    def on_issued() -> float:
        store: dict[str, bytes] = {}
        c = _correlator(store)
        started = time.process_time()
        loop.run_until_complete(issue_all(c))
        result = per_event(started)
        filled.clear()
        filled.update(store)
        return result

    def on_ack() -> float:
        store = dict(filled)
        c = _correlator(store)
        c.rebuild(store.items(), {0})
        started = time.process_time()
        loop.run_until_complete(ack_all(c))
        return per_event(started)

    def decoding() -> float:
        raws = list(filled.values())
        started = time.process_time()
        for raw in raws:
            decode(raw)
        return per_event(started)

    def rebuild() -> float:
        c = _correlator({})
        c.begin_rebuild({0}, {0})
        items = list(filled.items())
        started = time.process_time()
        c.rebuild_slice(items, {0})
        while not c.finish_rebuild(0):
            pass
        return per_event(started)

    topic = load_settings().topic_issued
    consumed = [_Record(topic, 0, offset, key, value)
                for offset, (key, value) in enumerate(records)]

    async def process_all(processor: BatchProcessor) -> None:
        for record in consumed:
            await processor._process(record)

    def process() -> float:
        processor = _processor()
        started = time.process_time()
        loop.run_until_complete(process_all(processor))
        return per_event(started)

    stages = [("intake issued", intake), ("to_issued", wire), ("on_issued", on_issued),
              ("on_ack", on_ack), ("decode", decoding), ("rebuild", rebuild),
              ("process issued", process)]
    print(f"{'stage':<16}{'µs/event':>10}  (best of {args.repeat} passes over {n:,}; median)")
    for name, run in stages:
        best, median = _best(run, args.repeat)
        print(f"{name:<16}{best:>10.2f}  ({median:.2f})", flush=True)
    loop.close()
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} on "
          f"{os.cpu_count()} CPUs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
