"""Command line for the local broker: ``invoice-sync kafka start|stop|status`` and ``fetch``.

``start`` and ``status`` print the bootstrap address as the last stdout line (and nothing else on
stdout), so scripts can capture it: ``BOOTSTRAP=$(invoice-sync kafka start --port 19092)``.
Exit codes: 0 ok, 1 error (one line on stderr); ``status`` exits 1 when no broker runs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import NoReturn

from pipeline.localkafka import broker
from pipeline.localkafka.errors import LocalKafkaError
from pipeline.localkafka.jars import ensure_jars

PROG = "invoice-sync kafka"


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    # argparse would exit with 2 and a usage block; we promise exit 1 and one line.
    def error(self, message: str) -> NoReturn:
        raise _UsageError(message)


def run(argv: list[str]) -> int:
    """Run one command (``argv`` without the program name or ``kafka``); return the exit code."""
    if argv[:1] == ["kafka"]:  # `python -m pipeline.localkafka kafka start` works too
        argv = argv[1:]
    try:
        args = _parser().parse_args(argv)
        return int(args.handler(args))
    except SystemExit as exit_:  # --help
        return exit_.code if isinstance(exit_.code, int) else 0
    except _UsageError as exc:
        return _fail(f"{exc} (see {PROG} --help)")
    except LocalKafkaError as exc:
        return _fail(exc.summary)
    except OSError as exc:
        return _fail(str(exc))


def main() -> None:
    """Entry point of ``python -m pipeline.localkafka``."""
    sys.exit(run(sys.argv[1:]))


def _start(args: argparse.Namespace) -> int:
    info = broker.start(args.port, args.data_dir, timeout=args.timeout)
    _note(f"kafka broker pid {info.pid} (controller port {info.controller_port}), {info.data_dir}")
    print(info.bootstrap)
    return 0


def _stop(args: argparse.Namespace) -> int:
    stopped = broker.stop(args.data_dir)
    _note("stopped" if stopped else "no broker was running")
    return 0


def _status(args: argparse.Namespace) -> int:
    info = broker.status(args.data_dir)
    if info is None:
        return _fail("no broker running" + (f" for {args.data_dir}" if args.data_dir else ""))
    _note(f"running: pid {info.pid}, controller port {info.controller_port}, {info.data_dir}")
    print(info.bootstrap)
    return 0


def _fetch(_: argparse.Namespace) -> int:
    print(ensure_jars())
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description="A local Apache Kafka broker (KRaft, no Docker).")
    commands = parser.add_subparsers(required=True, metavar="COMMAND", parser_class=_Parser)
    data_dir_help = "broker data directory (default: var/kafka in the checkout)"

    start = commands.add_parser("start", help="start the broker, print its bootstrap address")
    start.add_argument("--port", type=int, default=None, help="client port (default 9092)")
    start.add_argument("--data-dir", type=Path, default=None, help=data_dir_help)
    start.add_argument("--timeout", type=float, default=60.0, help="seconds to wait (default 60)")
    start.set_defaults(handler=_start)

    stop = commands.add_parser("stop", help="stop the broker")
    stop.add_argument("--data-dir", type=Path, default=None, help=data_dir_help)
    stop.set_defaults(handler=_stop)

    status = commands.add_parser("status", help="print the bootstrap address if running")
    status.add_argument("--data-dir", type=Path, default=None, help=data_dir_help)
    status.set_defaults(handler=_status)

    fetch = commands.add_parser("fetch", help="download the broker's jars into the cache")
    fetch.set_defaults(handler=_fetch)
    return parser


def _note(message: str) -> None:
    print(message, file=sys.stderr)


def _fail(message: str) -> int:
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return 1
