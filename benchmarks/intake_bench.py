"""Micro-benchmark of intake: µs per event, the pydantic contract alone against the fast path.

``python -m benchmarks.intake_bench [--events N] [--repeat R]``. Events are the benchmark's own
(``benchmarks.data``: valid issued events and acceptances) and invalid ones of common kinds.
Each figure is the best of R timed passes over N distinct records (the best pass is the one
least disturbed by other work on the machine); the median pass is printed beside it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from typing import Literal

import orjson

from benchmarks.data import ack_record, issued_record
from pipeline.intake import Accepted, classify, classify_by_contract

#: The kinds with a fast path to compare (actions go to the contract only).
EventKind = Literal["issued", "acknowledged"]

Record = tuple[bytes, bytes]
STAMP = "2026-12-01T10:00:00+00:00"


def _invalid(records: list[Record]) -> list[Record]:
    """Each record damaged one of four ways: broken amount sum, missing field, bad timestamp,
    not JSON."""
    out = []
    for n, (key, value) in enumerate(records):
        event = orjson.loads(value)
        match n % 4:
            case 0:
                event["total_amount"] = "1.00"
            case 1:
                del event["seller_name"]
            case 2:
                event["issued_at"] = "2026-12-01T10:00:00"
            case _:
                out.append((key, value[:-2]))
                continue
        out.append((key, orjson.dumps(event)))
    return out


def _time(kind: EventKind, records: list[Record], repeat: int) -> list[tuple[float, float]]:
    """(best, median) µs per event of the contract alone and of classify; their passes
    alternate, so a burst of other work on the machine hits both alike."""
    passes: list[list[float]] = [[], []]
    for _ in range(repeat):
        for n, fn in enumerate((classify_by_contract, classify)):
            started = time.perf_counter()
            for key, value in records:
                fn(kind, key, value)
            passes[n].append((time.perf_counter() - started) / len(records) * 1e6)
    return [(min(p), statistics.median(p)) for p in passes]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.intake_bench",
                                description=__doc__.split("\n")[0])
    p.add_argument("--events", type=int, default=20_000)
    p.add_argument("--repeat", type=int, default=7)
    args = p.parse_args(argv)
    issued = [issued_record(seq, STAMP, "110000") for seq in range(args.events)]
    acks = [ack_record(key.decode(), STAMP) for key, _ in issued]
    # acks have no fast path (pipeline.intake_fast says why): their row shows the wrapper alone
    sets: list[tuple[str, EventKind, list[Record]]] = [
        ("valid issued", "issued", issued), ("valid ack", "acknowledged", acks),
        ("invalid issued", "issued", _invalid(issued))]
    for name, kind, records in sets:  # both paths agree before anything is timed
        for key, value in records[:500]:
            assert classify(kind, key, value) == classify_by_contract(kind, key, value), name
    assert all(isinstance(classify("issued", k, v), Accepted) for k, v in issued[:500])
    print(f"{'events':<16}{'pydantic µs':>14}{'fast µs':>12}{'speed-up':>10}   (best of "
          f"{args.repeat} passes over {args.events:,}; median in brackets)")
    for name, kind, records in sets:
        slow, fast = _time(kind, records, args.repeat)
        print(f"{name:<16}{slow[0]:>7.2f} ({slow[1]:.2f}){fast[0]:>6.2f} ({fast[1]:.2f})"
              f"{slow[0] / fast[0]:>8.1f}x")
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} on "
          f"{os.cpu_count()} CPUs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
