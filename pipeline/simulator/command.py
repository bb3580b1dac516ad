"""``invoice-sync simulate``: produce a scenario and write its ground truth, or ``--check`` a run.

Only argparse is imported at module level, so the CLI starts fast; the rest loads on use.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterator

    from pipeline.settings import Settings

    from .timeline import Item, SimulationConfig
    from .truth import DeadLetterTruth, GroundTruth

SCENARIO_NAMES = ("healthy", "network_outage", "maintenance_window", "incomplete_fields",
                  "forgotten_submission", "duplicates", "out_of_order", "malformed",
                  "outdated_client")
LAG_WARNING = 0.2
"""A producer more than 0.2 x warn_after behind schedule may have made an in-time ack late."""


def _duration(text: str) -> float:
    from pipeline.correlation.durations import parse_duration

    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Add the ``simulate`` sub-command to ``sub`` (an argparse subparsers object)."""
    simulate: argparse.ArgumentParser = sub.add_parser(
        "simulate", help="produce a realistic scenario with its ground truth, or --check a run",
        description="Produce invoices and acknowledgements for a scenario and write the ground "
        "truth (JSONL); with --check, read the alert and dead-letter topics back and print "
        "precision and recall. Broker, topics and thresholds come from the INVOICE_SYNC_* "
        "settings, as for the worker.")
    run = simulate.add_argument_group("simulate")
    run.add_argument("--scenario", choices=SCENARIO_NAMES, default=None,
                     help="what goes wrong (default: healthy)")
    size = run.add_mutually_exclusive_group()
    size.add_argument("--count", type=int, default=None, help="invoices to issue (default 200)")
    size.add_argument("--duration", type=_duration, default=None,
                      help="issue invoices for this long instead (e.g. 90s, 10m)")
    run.add_argument("--rate", type=float, default=50.0,
                     help="records per second on average, all topics (default 50)")
    run.add_argument("--seed", type=int, default=None,
                     help="reproduce a run (default: random, printed and kept in the truth)")
    run.add_argument("--share", type=float, default=None,
                     help="fraction of invoices the scenario affects (default per scenario)")
    run.add_argument("--latency-median", type=_duration, default=None,
                     help="median acknowledgement latency (default 5%% of warn_after)")
    run.add_argument("--latency-p99", type=_duration, default=None,
                     help="99th percentile latency (default 40%% of warn_after)")
    run.add_argument("--window", type=_duration, default=None,
                     help="outage/maintenance length (default 2 x warn_after)")
    run.add_argument("--outage-region", default="110000",
                     help="region whose acks stop in network_outage (default 110000)")
    run.add_argument("--cut", choices=("platform", "company"), default="platform",
                     help="network_outage: the platform stops answering (default), or the "
                     "company's uploads fail in transport (needs INVOICE_SYNC_TOPIC_SUBMITTED)")
    run.add_argument("--no-canary", action="store_true",
                     help="do not make the first invoice a never-acknowledged canary")
    run.add_argument("--truth", type=Path, default=None,
                     help="ground truth file (default simulate-SCENARIO-SEED.jsonl)")
    run.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                     help="progress line on stderr (default: when stderr is a terminal)")
    for name in ("warn-after", "critical-after"):
        run.add_argument(f"--{name}", type=_duration, default=None,
                         help=f"override INVOICE_SYNC_{name.upper().replace('-', '_')} "
                         "(must match the worker's)")
    check = simulate.add_argument_group("check")
    check.add_argument("--check", type=Path, metavar="GROUND_TRUTH", default=None,
                       help="judge the run described by this ground truth file")
    check.add_argument("--grace", type=_duration, default=10.0,
                       help="wait this long past the last deadline before judging (default 10s)")
    check.add_argument("--horizon", type=_duration, default=0.0,
                       help="also judge deadlines this long after the run (e.g. critical)")
    check.add_argument("--min", type=float, default=1.0, dest="minimum",
                       help="pass when precision and recall are at least this (default 1.0)")
    check.add_argument("--min-cause", type=float, default=0.0, dest="cause_minimum",
                       help="also require this cause accuracy (default 0: printed only)")
    return simulate


def run_simulate(args: argparse.Namespace) -> int:
    """Run ``simulate`` for parsed ``args``; returns the exit code."""
    from pipeline.correlation.sla import SlaRulesError
    from pipeline.settings import SettingsError, load_settings

    overrides = {name: getattr(args, name) for name in ("warn_after", "critical_after")
                 if getattr(args, name) is not None}
    try:
        settings = load_settings(**overrides)
        if args.check is not None:
            if args.scenario or args.count or args.duration:
                raise ValueError("--check takes no --scenario, --count or --duration")
            return _check(settings, args)
        return _simulate(settings, args)
    except (SettingsError, SlaRulesError, ValueError, OSError) as exc:
        print(f"invoice-sync simulate: {exc}", file=sys.stderr)
        return 2


def _simulate(settings: Settings, args: argparse.Namespace) -> int:
    import asyncio
    import secrets

    from pipeline.settings import load_maintenance_windows, load_sla
    from pipeline.topics import ensure_topics

    from .kafka_io import produce
    from .latency import LatencyModel
    from .progress import Progress
    from .report import truth_summary
    from .timeline import SimulationConfig, invoices_for, timeline
    from .truth import GroundTruth, InvoiceTruth, to_line

    scenario = args.scenario or "healthy"
    seed = args.seed if args.seed is not None else secrets.randbelow(10**6)
    sla = load_sla(settings)
    warn = sla.default.warn_after
    latency = LatencyModel(args.latency_median or 0.05 * warn, args.latency_p99 or 0.4 * warn)
    count = args.count or 200
    if args.duration is not None:
        count = invoices_for(args.duration, scenario, args.rate, args.share)
    tracked = settings.topic_submitted is not None
    if args.cut == "company" and not tracked:
        raise ValueError("--cut company needs INVOICE_SYNC_TOPIC_SUBMITTED (the failed uploads "
                         "are what the worker sees)")
    config = SimulationConfig(scenario, count, args.rate, seed, sla, latency, args.share,
                              args.window, args.outage_region, canary=not args.no_canary,
                              submissions=tracked, cut=args.cut,
                              maintenance=load_maintenance_windows(settings))
    path = args.truth or Path(f"simulate-{scenario}-{seed}.jsonl")
    asyncio.run(ensure_topics(settings))
    show = sys.stderr.isatty() if args.progress is None else args.progress
    truth = GroundTruth(run={})
    with path.open("wb") as out:

        def plan(start: float) -> Iterator[Item]:
            truth.run = _header(settings, config, start)
            out.write(to_line(truth.run))
            return timeline(config, start)

        def keep(record: InvoiceTruth | DeadLetterTruth) -> None:
            out.write(to_line(record))
            if isinstance(record, InvoiceTruth):
                truth.invoices.append(record)
            else:
                truth.dead_letters.append(record)

        stats = asyncio.run(produce(settings, plan, keep,
                                    Progress(sys.stderr, enabled=show, total=count)))
        truth.produced = {"type": "produced", "records": stats.records,
                          "last_record_at": stats.last_record_at,
                          "max_lag_seconds": round(stats.max_lag, 3)}
        out.write(to_line(truth.produced))
    start = stats.first_at
    took = max(1e-9, stats.last_record_at - start)
    print(f"scenario {scenario}, seed {seed}: {stats.records} records ({stats.invoices} invoices, "
          f"{stats.dead_letters} malformed) over {took:.1f}s ({stats.records / took:.1f}/s), "
          f"max producer lag {stats.max_lag:.3f}s")
    print(truth_summary(truth))
    print(f"ground truth written to {path}; check with: invoice-sync simulate --check {path}")
    if stats.max_lag > LAG_WARNING * min(t.warn_after for t in truth.invoices):
        print(f"warning: the producer fell {stats.max_lag:.2f}s behind schedule (over "
              f"{LAG_WARNING:.0%} of warn_after); lower --rate: the ground truth may not hold",
              file=sys.stderr)
        return 1
    return 0


def _header(settings: Settings, config: SimulationConfig, start: float) -> dict[str, Any]:
    default = config.sla.default
    return {
        "type": "run", "version": 1, "scenario": config.scenario, "seed": config.seed,
        "count": config.count, "rate": config.rate, "share": config.effective_share,
        "started_at": start, "warn_after": default.warn_after,
        "critical_after": default.critical_after,
        "sla_rules": str(settings.sla_rules) if settings.sla_rules else None,
        "latency_median": config.latency.median, "latency_p99": config.latency.p99,
        "window": config.window, "outage_region": config.outage_region,
        "canary": config.canary, "cut": config.cut,
        "maintenance_windows": (str(settings.maintenance_windows)
                                if settings.maintenance_windows else None),
        "topics": {"issued": settings.topic_issued, "acknowledged": settings.topic_acknowledged,
                   "submitted": settings.topic_submitted,
                   "alerts": settings.topic_alerts, "dlq": settings.topic_dlq},
    }


def _check(settings: Settings, args: argparse.Namespace) -> int:
    import asyncio
    import time

    from .invoices import wire_time
    from .kafka_io import read_outcomes
    from .report import truth_summary, verdict_report
    from .scoring import judge
    from .truth import read_truth

    truth: GroundTruth = read_truth(args.check)
    if truth.produced is None:
        print(f"invoice-sync simulate: {args.check} has no 'produced' line: the run was "
              "interrupted, its ground truth is incomplete", file=sys.stderr)
        return 2
    cutoff = truth.observe_until() + args.horizon
    judge_at = cutoff + args.grace
    run = truth.run
    print(f"ground truth {args.check}: scenario {run['scenario']}, seed {run['seed']}, "
          f"warn_after {run['warn_after']:g}s")
    print(truth_summary(truth))
    wait = judge_at - time.time()
    print(f"judging at {wire_time(judge_at)}: deadlines up to {wire_time(cutoff)} plus "
          f"{args.grace:g}s grace" + (f" (waiting {wait:.1f}s)" if wait > 0 else ""), flush=True)
    outcomes = asyncio.run(read_outcomes(settings, float(run["started_at"]), judge_at))
    verdict = judge(truth, outcomes.alerts, outcomes.dead_letters, cutoff)
    print(verdict_report(verdict))
    lag = float(truth.produced.get("max_lag_seconds", 0.0))
    if truth.invoices and lag > LAG_WARNING * min(t.warn_after for t in truth.invoices):
        print(f"warning: the run's producer fell {lag:.2f}s behind schedule: results may be off",
              file=sys.stderr)
    passed = verdict.passed(args.minimum, args.cause_minimum)
    print("PASS" if passed else f"FAIL: precision or recall below {args.minimum:g}, or cause "
          f"accuracy below {args.cause_minimum:g}")
    return 0 if passed else 1
