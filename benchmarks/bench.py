"""``make bench``: one run on one broker and one pre-produced backlog, six figures.

a. baseline: a plain aiokafka consumer (getmany + orjson) reading the backlog, events/s;
b. pipeline: one worker process through the same backlog, from its launch to the last event
   counted on /metrics, events/s;
c. the ratio b / a;
d. alert lateness (detected_at - deadline_at) p50 / p99 while events arrive at a sustained rate;
e. peak RSS, and bytes per pending invoice = (RSS with N pending - RSS of an idle worker) / N;
f. seconds for a restarted worker to recover N pending invoices and be ready (/readyz 200 and
   the pending gauge back at N);
g. peers (``--peers``, on unless ``--quick``): the same backlog through a minimal Kafka Streams
   app and a minimal Quix Streams app doing the same join (benchmarks/peers/), each from launch
   to its group's committed end offsets, events/s and CPU per event, and the ratio b / fastest.

Everything it starts (broker, workers) it stops. Usage: ``python -m benchmarks.bench [--quick]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import platform
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks import data, peers
from benchmarks.kafka_reads import baseline, lateness, percentile, read_alerts
from benchmarks.peers.run import cpu_seconds
from benchmarks.profile import Sampler
from benchmarks.report import machine, render_table
from benchmarks.worker import BenchWorker, poll
from pipeline.localkafka.ports import free_port
from pipeline.localkafka.testing import running_broker
from pipeline.settings import Settings
from pipeline.topics import ensure_topics

LIVE_WARN_AFTER = 5.0


def _load() -> list[float]:
    return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]


class Run:
    """Names, settings and files of one benchmark run."""

    def __init__(self, bootstrap: str, tmp: Path, partitions: int,
                 overrides: dict[str, str] | None = None) -> None:
        self.bootstrap = bootstrap
        self.tmp = tmp
        self.partitions = partitions
        self.overrides = overrides or {}
        self.sla = tmp / "sla.yaml"
        self.sla.write_text(f"rules:\n  - {{region_code: \"{data.LIVE_REGION}\", "
                            f"warn_after: {LIVE_WARN_AFTER:g}s, critical_after: 1h}}\n")
        self.log = tmp / "workers.log"

    def topics(self, prefix: str) -> dict[str, str]:
        return {"issued": f"{prefix}.invoice.issued",
                "acknowledged": f"{prefix}.invoice.acknowledged",
                "alerts": f"{prefix}.invoice.sync.alerts", "dlq": f"{prefix}.invoice.sync.dlq",
                "ticks": f"{prefix}.ticks", "actions": f"{prefix}.invoice.sync.actions",
                # Each run's own: the group-wide evidence and declared maintenance topics are
                # read whole by every worker, so a shared default would mix the runs.
                "evidence": f"{prefix}.evidence", "maintenance": f"{prefix}.maintenance"}

    def settings(self, prefix: str) -> dict[str, str]:
        names = self.topics(prefix)
        return {
            "BROKER": f"kafka://{self.bootstrap}", "APP_ID": f"{prefix}-invoice-sync",
            **{f"TOPIC_{role.upper()}": name for role, name in names.items()},
            "PARTITIONS": str(self.partitions), "DATA_DIR": str(self.tmp / prefix / "state"),
            "WEB_BIND": "127.0.0.1", "WARN_AFTER": "1h", "CRITICAL_AFTER": "2h",
            "SLA_RULES": str(self.sla), "LOG_LEVEL": "INFO", **self.overrides,
        }

    def worker(self, prefix: str) -> BenchWorker:
        env = {k: v for k, v in os.environ.items() if not k.startswith("INVOICE_SYNC_")}
        env.update({f"INVOICE_SYNC_{k}": v for k, v in self.settings(prefix).items()})
        env["INVOICE_SYNC_WEB_PORT"] = str(free_port())
        return BenchWorker(env, self.log)

    def create_topics(self, prefix: str) -> None:
        fields = {k.lower(): v for k, v in self.settings(prefix).items()}
        asyncio.run(ensure_topics(Settings.model_validate(fields)))


def _idle_rss(run: Run) -> int:
    """RSS of a ready worker holding nothing (its own empty topics)."""
    run.create_topics("idle")
    worker = run.worker("idle").start()
    try:
        poll(worker.ready, 120, "the idle worker to be ready")
        poll(lambda: worker.metric("invoice_sync_last_commit_timestamp_seconds"), 60,
             "the idle worker's first commit")
        return worker.settled_rss()
    finally:
        worker.stop()


def measure(args: argparse.Namespace) -> dict[str, Any]:
    """Run every phase; returns the results document."""
    results: dict[str, Any] = {"load_avg": {}}
    # built and installed before the broker starts (Maven and pip, cached after the first run)
    homes = peers.prepare() if args.peers else None
    with tempfile.TemporaryDirectory(prefix="invoice-sync-bench-") as tmp_name:
        tmp = Path(tmp_name)
        with running_broker(tmp) as broker:
            overrides = dict(item.split("=", 1) for item in args.set)
            run = Run(broker.bootstrap, tmp, args.partitions, overrides)
            results["worker_settings"] = overrides
            args.out.mkdir(parents=True, exist_ok=True)
            run.log = args.out / "workers.log"  # kept after the run, for a look at errors
            run.log.write_bytes(b"")
            results["load_avg"]["start"] = _load()
            rss_idle = _idle_rss(run)
            print(f"idle worker RSS {rss_idle / 2**20:.1f} MiB", flush=True)

            run.create_topics("bench")
            names = run.topics("bench")
            topics = data.Topics(names["issued"], names["acknowledged"])
            acked = round(args.pending * args.acked_share)
            counts: Counter[str] = Counter()

            def counted(records: Any) -> Any:
                for record in records:
                    counts[record[0]] += 1
                    yield record

            started = time.monotonic()
            total = asyncio.run(data.produce(run.bootstrap, topics, counted(
                data.backlog(args.pending, acked, time.time()))))
            produce_s = time.monotonic() - started
            print(f"produced {total:,} events in {produce_s:.1f}s", flush=True)
            results["data"] = {"pending": args.pending, "acked": acked, "events": total,
                               "by_topic": dict(counts), "partitions": args.partitions,
                               "produce_seconds": round(produce_s, 2)}

            results["load_avg"]["baseline"] = _load()
            base_s = asyncio.run(baseline(run.bootstrap, [topics.issued, topics.acknowledged],
                                          total, "bench-baseline"))
            results["baseline"] = {"seconds": round(base_s, 3),
                                   "events_per_second": round(total / base_s)}
            print(f"baseline: {total / base_s:,.0f} events/s", flush=True)

            if homes is not None:
                results["load_avg"]["peers"] = _load()
                found = peers.run_peers(run.bootstrap, topics.issued, topics.acknowledged,
                                        tmp / "peers", args.out / "peers.log", homes)
                results["peers"] = [peer.as_dict() for peer in found]
                for peer in found:
                    print(f"peer {peer.name}: {peer.events_per_second:,.0f} events/s, "
                          f"{peer.cpu_us_per_event:.1f} µs CPU/event", flush=True)

            results["load_avg"]["pipeline"] = _load()
            results.update(_pipeline_and_restart(run, args, total, rss_idle))
            results["load_avg"]["end"] = _load()
    pipe, base = results["pipeline"], results["baseline"]
    results["figures"] = {
        "baseline_events_per_second": base["events_per_second"],
        "pipeline_events_per_second": pipe["events_per_second"],
        "ratio": round(pipe["events_per_second"] / base["events_per_second"], 3),
        "lateness_p50_seconds": results["lateness"]["p50_seconds"],
        "lateness_p99_seconds": results["lateness"]["p99_seconds"],
        "peak_rss_bytes": results["memory"]["peak_rss_bytes"],
        "bytes_per_pending": results["memory"]["bytes_per_pending"],
        "recovery_seconds": results["recovery"]["seconds"],
        "pipeline_cpu_us_per_event": pipe["cpu_us_per_event"],
    }
    if "peers" in results:
        fastest = max(results["peers"], key=lambda peer: peer["events_per_second"])
        results["figures"].update({
            "fastest_peer_events_per_second": fastest["events_per_second"],
            "ratio_to_fastest_peer": round(pipe["events_per_second"]
                                           / fastest["events_per_second"], 3)})
    return results


def _pipeline_and_restart(run: Run, args: argparse.Namespace, total: int,
                          rss_idle: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    n = args.pending
    worker = run.worker("bench").start()
    if args.profile:
        args.profile.parent.mkdir(parents=True, exist_ok=True)
    sampler = Sampler(worker.pid, args.profile) if args.profile else None
    try:
        ready = poll(lambda: worker.ready() and time.monotonic(), 300, "the worker to be ready")
        # Polled every 0.25 s: at most that much is added to a run of tens of seconds or more.
        done = poll(lambda: (worker.metric("invoice_sync_events_total") or 0) >= total
                    and time.monotonic(), args.timeout, "the worker to process the backlog",
                    interval=0.25)
        cpu = cpu_seconds(worker.pid)  # launch to the last event, as for the peers
        if sampler is not None:
            out["profile"] = str(sampler.stop())
        seconds = done - worker.started_at
        out["pipeline"] = {"seconds": round(seconds, 3), "ready_after": round(
            ready - worker.started_at, 3), "events_per_second": round(total / seconds),
            "cpu_seconds": round(cpu, 2), "cpu_us_per_event": round(cpu / total * 1e6, 1)}
        print(f"pipeline: {total / seconds:,.0f} events/s ({seconds:.1f}s), "
              f"{cpu / total * 1e6:.1f} µs CPU/event", flush=True)
        poll(lambda: worker.metric("invoice_sync_pending_invoices") == n, 120,
             f"the pending gauge to show {n}")
        loaded = worker.settled_rss()
        first_peak = worker.memory()["VmHWM"]
    finally:
        if sampler is not None:
            sampler.stop()
        worker.stop()

    restarted = run.worker("bench").start()
    restart_profile = args.profile.with_suffix(".restart.txt") if args.profile else None
    sampler = Sampler(restarted.pid, restart_profile) if restart_profile else None
    try:
        poll(lambda: restarted.ready() and restarted.metric(
            "invoice_sync_pending_invoices") == n, args.timeout, "the restarted worker")
        recovery = time.monotonic() - restarted.started_at
        if sampler is not None:
            out["profile_restart"] = str(sampler.stop())
        out["recovery"] = {"seconds": round(recovery, 3), "pending": n}
        print(f"recovery of {n:,} pending: {recovery:.1f}s", flush=True)
        recovered = restarted.settled_rss()
        out["lateness"] = _live(run, args, restarted)
        peak = max(first_peak, restarted.memory()["VmHWM"])
    finally:
        if sampler is not None:
            sampler.stop()
        restarted.stop()
    # Per pending invoice: the restarted worker, which holds exactly the N pending invoices and
    # nothing of the catch-up (fetch buffers, prefetched records, allocator high water); the
    # worker that just processed the backlog is reported beside it.
    per_pending = (recovered - rss_idle) / n
    out["memory"] = {"peak_rss_bytes": peak, "rss_idle_bytes": rss_idle,
                     "rss_after_backlog_bytes": loaded,
                     "rss_after_restart_bytes": recovered,
                     "bytes_per_pending": round(per_pending, 1),
                     "bytes_per_pending_after_backlog": round((loaded - rss_idle) / n, 1)}
    print(f"memory: peak {peak / 2**20:.0f} MiB, {per_pending:.0f} B/pending (restarted worker), "
          f"{(loaded - rss_idle) / n:.0f} B/pending right after the backlog", flush=True)
    return out


def _live(run: Run, args: argparse.Namespace, worker: BenchWorker) -> dict[str, Any]:
    names = run.topics("bench")
    topics = data.Topics(names["issued"], names["acknowledged"])
    state: dict[str, Any] = {"unacked": None}

    def done(alerts: list[dict[str, object]]) -> bool:
        unacked = state["unacked"]
        seen = {a["invoice_id"] for a in alerts if a["kind"] == "unsynced"}
        return unacked is not None and unacked <= seen

    async def both() -> tuple[data.LiveResult, list[dict[str, object]]]:
        async def play() -> data.LiveResult:
            live = await data.play_live(run.bootstrap, topics, rate=args.live_rate,
                                        seconds=args.live_seconds, unacked_share=0.1)
            state["unacked"] = live.unacked
            return live
        wait = args.live_seconds + LIVE_WARN_AFTER + 120
        return await asyncio.gather(play(), read_alerts(run.bootstrap, names["alerts"], done,
                                                        wait))

    live, alerts = asyncio.run(both())
    ours = [a for a in alerts if a["kind"] == "unsynced" and a["invoice_id"] in live.unacked]
    # Lateness "at a sustained rate": deadlines that fell while events were still arriving.
    # The last WARN_AFTER seconds of invoices fall due on a quiet topic (ticks only): reported
    # apart as quiet_max_seconds.
    values: list[float] = []
    quiet: list[float] = []
    series: list[tuple[float, float]] = []
    for alert in ours:
        deadline = datetime.fromisoformat(str(alert["deadline_at"])).timestamp()
        (values if deadline <= live.sustained_until else quiet).append(lateness(alert))
        series.append((deadline, lateness(alert)))
    result: dict[str, Any] = {"p50_seconds": round(percentile(values, 0.50), 3),
              "p99_seconds": round(percentile(values, 0.99), 3),
              "max_seconds": round(max(values), 3), "alerts": len(values),
              "quiet_alerts": len(quiet),
              "quiet_max_seconds": round(max(quiet), 3) if quiet else None,
              "rate_events_per_second": round(live.events / live.seconds),
              "seconds": round(live.seconds, 1), "warn_after_seconds": LIVE_WARN_AFTER,
              "other_alerts": len(alerts) - len(ours)}
    if getattr(args, "series", False):  # benchmarks.lateness --series: (deadline, lateness)
        result["series"] = sorted(series)
    print(f"lateness p50 {result['p50_seconds']}s p99 {result['p99_seconds']}s "
          f"over {len(values)} alerts at {result['rate_events_per_second']} events/s",
          flush=True)
    return result


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m benchmarks.bench", description=__doc__.split(
        "\n")[0])
    p.add_argument("--quick", action="store_true", help="100,000 pending, 20 s live phase")
    p.add_argument("--pending", type=int, default=None,
                   help="pending invoices in the backlog (default 1,000,000; --quick 100,000)")
    p.add_argument("--acked-share", type=float, default=0.05,
                   help="acknowledged invoices added to the backlog, as a share of --pending")
    p.add_argument("--partitions", type=int, default=6)
    p.add_argument("--live-rate", type=float, default=1000.0, help="live events per second")
    p.add_argument("--live-seconds", type=float, default=None, help="default 60 (--quick 20)")
    p.add_argument("--peers", action=argparse.BooleanOptionalAction, default=None,
                   help="also run the Kafka Streams and Quix Streams peers on the backlog "
                        "(default: on, off with --quick; the first run builds and installs them)")
    p.add_argument("--timeout", type=float, default=3600.0)
    p.add_argument("--out", type=Path, default=Path("var/bench"))
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                   help="a worker setting for every worker of the run, e.g. "
                        "ROCKSDB_BLOCK_CACHE_BYTES=8388608 (INVOICE_SYNC_ prefix implied)")
    p.add_argument("--profile", type=Path, default=None, metavar="FILE",
                   help="sample the worker with py-spy during the backlog into FILE, and the "
                        "restarted worker's recovery into FILE with suffix .restart.txt (raw "
                        "collapsed stacks; summary: python -m benchmarks.profile FILE)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    # The producer retries NotLeaderForPartition on brand-new topics by itself; keep the output
    # to the figures.
    logging.getLogger("aiokafka").setLevel(logging.ERROR)
    if args.pending is None:
        args.pending = 100_000 if args.quick else 1_000_000
    if args.live_seconds is None:
        args.live_seconds = 20.0 if args.quick else 60.0
    if args.live_seconds <= LIVE_WARN_AFTER:
        # Else no deadline falls while events still arrive, and figure d has no sample: the
        # run used to end in an IndexError after the backlog, before printing figure e.
        _parser().error(f"--live-seconds must exceed {LIVE_WARN_AFTER:g} (the live phase's "
                        f"warning rule): got {args.live_seconds:g}")
    if args.peers is None:
        # off in the quick mode that CI runs: a first run builds the Kafka Streams app with
        # Maven and installs Quix Streams (minutes on a fresh machine), then both took 85 s
        # of a loaded machine's quick run (docs/performance.md)
        args.peers = not args.quick
    command = "python -m benchmarks.bench " + " ".join(argv if argv is not None else sys.argv[1:])
    started = datetime.now(UTC)
    results = measure(args)
    results.update({"command": command.strip(), "started_at": started.isoformat(),
                    "machine": machine(), "python": platform.python_version()})
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    document = json.dumps(results, indent=2, sort_keys=True) + "\n"
    for name in (f"results-{stamp}.json", "latest.json"):
        (args.out / name).write_text(document)
    print(render_table(results))
    print(f"results: {args.out / f'results-{stamp}.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
