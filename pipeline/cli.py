"""The ``invoice-sync`` command line."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="invoice-sync",
        description="Correlate issued invoices with tax-platform acknowledgements on Kafka.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("worker", help="run a correlation worker (settings: INVOICE_SYNC_* env vars)")
    # Dispatched before parsing (main): its own parser answers `kafka --help`.
    sub.add_parser("kafka", help="run a local single-node Kafka broker "
                                 "(start|stop|status; `invoice-sync kafka --help`)")
    check = sub.add_parser(
        "check-config", help="validate the INVOICE_SYNC_* settings, API tokens and SLA rules "
                             "file without starting (exit 1 naming each problem)")
    check.add_argument("--sla-rules", type=Path,
                       help="check this rules file (default: $INVOICE_SYNC_SLA_RULES)")
    schemas = sub.add_parser("schemas", help="JSON Schemas of the wire events")
    schemas_sub = schemas.add_subparsers(dest="action", required=True)
    export = schemas_sub.add_parser("export", help="write one JSON Schema per event")
    export.add_argument("--dir", type=Path, default=Path("schemas"))
    dlq = sub.add_parser("dlq", help="the dead-letter topic")
    dlq_sub = dlq.add_subparsers(dest="action", required=True)
    replay = dlq_sub.add_parser(
        "replay", help="re-publish chosen dead letters to their source topic (original key, "
                       "value, headers, timestamp); settings from INVOICE_SYNC_* as the worker")
    replay.add_argument("--source-topic", help="only dead letters from this topic")
    replay.add_argument("--source-partition", type=int, help="only from this source partition")
    replay.add_argument("--from-offset", type=int, help="source offset, inclusive")
    replay.add_argument("--to-offset", type=int, help="source offset, inclusive")
    replay.add_argument("--reason", help="only this error_reason (not_json, contract, "
                                         "too_large, key_mismatch, processing_error)")
    replay.add_argument("--dry-run", action="store_true", help="list, produce nothing")
    _add_query_commands(sub)
    demo = sub.add_parser("demo", help="broker + worker + a realistic stream, alerts printed")
    demo.add_argument("--port", type=int, default=None, help="broker port (default: a free one)")
    from pipeline.simulator.command import add_parser as add_simulate_parser

    add_simulate_parser(sub)
    return parser


def _add_query_commands(sub: Any) -> None:
    """status / pending / report: the operator API of a running worker group."""
    url_help = "any worker's URL (default: $INVOICE_SYNC_API_URL or http://127.0.0.1:6066)"
    status = sub.add_parser("status", help="where one invoice is: issued, acknowledged, alerts")
    status.add_argument("invoice_id")
    pending = sub.add_parser("pending", help="unacknowledged invoices across the group, "
                                             "oldest first")
    pending.add_argument("--older-than", help="only invoices older than this (90s, 15m, 4h)")
    pending.add_argument("--limit", type=int, default=100, help="rows per page (1-1000)")
    pending.add_argument("--cursor", help="continue after a previous page")
    pending.add_argument("--all", action="store_true", help="follow every page")
    report = sub.add_parser("report", help="reconciliation of a period: issued, synced, "
                                           "pending, rejected, latency percentiles")
    report.add_argument("--since", help="ISO 8601 with offset or epoch seconds (inclusive)")
    report.add_argument("--until", help="ISO 8601 with offset or epoch seconds (exclusive)")
    pending.add_argument("--seller-tax-id", help="only this seller's invoices")
    for command in (pending, report):
        command.add_argument("--region-code", help="six-digit region, e.g. 110000")
        command.add_argument("--source-system")
        command.add_argument("--format", choices=("table", "csv"), default="table",
                             help="csv: UTF-8 with BOM (Excel opens Chinese text), times in "
                                  "--tz")
    close = sub.add_parser("close", help="close out an invoice that will never be acknowledged "
                                         "(operator token): no more alerts, not pending")
    close.add_argument("invoice_id")
    close.add_argument("--reason", required=True,
                       choices=("voided", "duplicate", "test", "handled-offline"))
    reopen = sub.add_parser("reopen", help="take a closed invoice back: its deadlines apply again")
    reopen.add_argument("invoice_id")
    for command in (close, reopen):
        command.add_argument("--note", help="why, for the audit trail (at most 500 characters)")
        command.add_argument("--url", help=url_help)
        command.add_argument("--json", action="store_true", help="print the API's JSON")
    for command in (status, pending, report):
        command.add_argument("--url", help=url_help)
        command.add_argument("--json", action="store_true",
                             help="print the API's JSON (times in UTC; with pending --all: "
                                  "every page in one document)")
        command.add_argument("--tz", help="display time zone (default $INVOICE_SYNC_DISPLAY_TZ "
                                          "or Asia/Shanghai)")


def version() -> str:
    """The installed package's version."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed("invoice-sync")
    except PackageNotFoundError:
        from pipeline import __version__

        return __version__


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["kafka"]:
        from pipeline.localkafka.cli import run

        return run(argv[1:])
    args = _parser().parse_args(argv)
    if args.command == "check-config":
        from pipeline.config_check import run_check

        return run_check(args.sla_rules)
    if args.command == "worker":
        from pipeline.worker.main import run_worker

        return run_worker()
    if args.command == "schemas":
        from pipeline.schema_export import export as export_schemas

        for path in export_schemas(args.dir):
            print(path)
        return 0
    if args.command == "dlq":
        return _replay(args)
    if args.command in ("status", "pending", "report", "close", "reopen"):
        from pipeline.queries.client import run as run_query

        return run_query(args.command, args)
    if args.command == "simulate":
        from pipeline.simulator.command import run_simulate

        return run_simulate(args)
    if args.command == "demo":
        from pipeline.demo import run_demo

        return run_demo(port=args.port)
    return 2


def _replay(args: Any) -> int:
    from pipeline.deadletter_replay import Selection, run_replay
    from pipeline.settings import SettingsError, load_settings

    try:
        settings = load_settings(api_auth="disabled")  # the command serves no API
    except SettingsError as exc:
        print(f"invoice-sync: {exc}", file=sys.stderr)
        return 2
    selection = Selection(source_topic=args.source_topic, source_partition=args.source_partition,
                          from_offset=args.from_offset, to_offset=args.to_offset,
                          reason=args.reason)
    return run_replay(settings, selection, dry_run=args.dry_run)


if __name__ == "__main__":
    sys.exit(main())
