"""The ``invoice-sync`` command line."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="invoice-sync",
        description="Correlate issued invoices with tax-platform acknowledgements on Kafka.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("worker", help="run a correlation worker (settings: INVOICE_SYNC_* env vars)")
    kafka = sub.add_parser("kafka", help="run a local single-node Kafka broker",
                           add_help=False)
    kafka.add_argument("args", nargs=argparse.REMAINDER)
    schemas = sub.add_parser("schemas", help="JSON Schemas of the wire events")
    schemas_sub = schemas.add_subparsers(dest="action", required=True)
    export = schemas_sub.add_parser("export", help="write one JSON Schema per event")
    export.add_argument("--dir", type=Path, default=Path("schemas"))
    demo = sub.add_parser("demo", help="broker + worker + a realistic stream, alerts printed")
    demo.add_argument("--port", type=int, default=None, help="broker port (default: a free one)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script."""
    args = _parser().parse_args(argv)
    if args.command == "worker":
        from pipeline.worker.main import run_worker

        return run_worker()
    if args.command == "kafka":
        from pipeline.localkafka.cli import run

        return run(args.args)
    if args.command == "schemas":
        from pipeline.schema_export import export as export_schemas

        for path in export_schemas(args.dir):
            print(path)
        return 0
    if args.command == "demo":
        from pipeline.demo import run_demo

        return run_demo(port=args.port)
    return 2


if __name__ == "__main__":
    sys.exit(main())
