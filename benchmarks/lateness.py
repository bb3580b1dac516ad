"""Figure d of ``make bench`` alone: alert lateness at a sustained live rate, in a minute or two.

The same live phase as :mod:`benchmarks.bench` (``_live``: 1,000 events/s, a 5 s warning rule,
10 % of the invoices never acknowledged, the rest 0.5 s after issue; lateness =
``detected_at - deadline_at``), on its own broker, after a smaller backlog of pending invoices
(``--pending``, default 10,000) that a first worker processes and a second worker, restarted on
the same state dir, recovers: the bench measures lateness on that restarted worker.

Usage: ``python -m benchmarks.lateness [--pending N] [--live-rate R] [--live-seconds S]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import data
from benchmarks.bench import Run, _live, _load
from benchmarks.worker import poll
from pipeline.localkafka.testing import running_broker


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m benchmarks.lateness",
                                description=__doc__.split("\n")[0])
    p.add_argument("--pending", type=int, default=10_000,
                   help="pending invoices in the backlog before the live phase")
    p.add_argument("--partitions", type=int, default=6)
    p.add_argument("--live-rate", type=float, default=1000.0, help="live events per second")
    p.add_argument("--live-seconds", type=float, default=30.0)
    p.add_argument("--timeout", type=float, default=600.0)
    p.add_argument("--out", type=Path, default=Path("var/bench"))
    p.add_argument("--series", type=Path, default=None, metavar="FILE",
                   help="write (deadline, lateness) of every alert to FILE as JSON lines")
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                   help="a worker setting (INVOICE_SYNC_ prefix implied)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.getLogger("aiokafka").setLevel(logging.ERROR)
    load = {"start": _load()}
    with tempfile.TemporaryDirectory(prefix="invoice-sync-lateness-") as tmp_name:
        tmp = Path(tmp_name)
        with running_broker(tmp) as broker:
            run = Run(broker.bootstrap, tmp, args.partitions,
                      dict(item.split("=", 1) for item in args.set))
            args.out.mkdir(parents=True, exist_ok=True)
            run.log = args.out / "lateness-workers.log"
            run.log.write_bytes(b"")
            run.create_topics("bench")
            names = run.topics("bench")
            topics = data.Topics(names["issued"], names["acknowledged"])
            asyncio.run(data.produce(run.bootstrap, topics, data.backlog(
                args.pending, 0, time.time())))
            first = run.worker("bench").start()
            try:
                poll(lambda: first.ready() and first.metric(
                    "invoice_sync_pending_invoices") == args.pending, args.timeout,
                    "the first worker to process the backlog", interval=0.25)
            finally:
                first.stop()
            restarted = run.worker("bench").start()
            try:
                poll(lambda: restarted.ready() and restarted.metric(
                    "invoice_sync_pending_invoices") == args.pending, args.timeout,
                    "the restarted worker")
                load["live"] = _load()
                result = _live(run, args, restarted)
            finally:
                restarted.stop()
    load["end"] = _load()
    series = result.pop("series", [])
    if args.series is not None:
        args.series.write_text("".join(json.dumps(point) + "\n" for point in series))
    result["load_avg"] = load
    result["pending"] = args.pending
    result["command"] = "python -m benchmarks.lateness " + " ".join(
        argv if argv is not None else sys.argv[1:])
    print(json.dumps(result, indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
