"""How long the deadline/pending rebuild takes on a large table, and how long it holds the loop.

Fills one worker's RocksDB table (the store faust recovers into, written the way faust writes
it) with N retained records across P partitions, then rebuilds the indexes of every partition as
after an assignment, twice:

- ``sliced``: the worker's rebuild (pipeline/worker/rebuild.py), slices with a yield between;
- ``at_once``: the previous behaviour, one synchronous pass over the table (``--mode both``).

While it runs, a probe task sleeps 5 ms at a time and records how late it wakes: the longest
stall is what heartbeats, rebalance callbacks and /healthz would have waited (a timer needs two
loop turns, so it sees about twice the rebuild's hold; a loaded machine stretches it further).
The rebuild's own longest hold between yields is printed in wall and CPU time. No broker needed.

Usage: ``python -m benchmarks.rebuild [--records 5000000] [--partitions 6] [--mode both]``.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

from rocksdict import WriteBatch

from pipeline.correlation.state import Flag, InvoiceState, encode
from pipeline.metrics import Metrics
from pipeline.settings import Settings
from pipeline.worker.app import InvoiceSyncApp
from pipeline.worker.rebuild import IndexRebuild
from pipeline.worker.store import decode_key, encode_key

T0 = 1_780_000_000.0
PROBE_SECONDS = 0.005


def _state(n: int, partition: int, pending: bool) -> InvoiceState:
    invoice_id = f"{2411_0000_0000_0000_0000 + n:020d}"
    issued_at = T0 + n * 0.01
    common = dict(invoice_id=invoice_id, partition=partition, issued_at=issued_at,
                  region_code=f"{110000 + (n % 40) * 100}", source_system=f"erp-{n % 12}",
                  seller_tax_id="91350100M000100Y43", warn_at=issued_at + 900,
                  critical_at=issued_at + 14400, seen=(n * 7919,))
    if pending:
        return InvoiceState(**common)  # type: ignore[arg-type]
    return InvoiceState(**common, flags=Flag(0), ack_status="accepted",  # type: ignore[arg-type]
                        acknowledged_at=issued_at + 30, resolved_at=issued_at + 31,
                        expires_at=issued_at + 7 * 86400)


def fill(worker: InvoiceSyncApp, records: int, partitions: int, pending_share: float) -> float:
    """Write ``records`` encoded records into the worker's table partitions (keys and values
    as pipeline/worker/store.py writes them); seconds taken."""
    started = time.monotonic()
    store: Any = worker.table.data
    every = max(1, round(1 / pending_share)) if pending_share > 0 else 0
    for partition in range(partitions):
        db = store._db_for_partition(partition)
        batch = WriteBatch(raw_mode=True)
        for n in range(partition, records, partitions):
            state = _state(n, partition, pending=bool(every) and n % every == 0)
            batch.put(encode_key(state.invoice_id), encode(state))  # as the batch store does
            if len(batch) >= 20_000:
                db.write(batch)
                batch = WriteBatch(raw_mode=True)
        db.write(batch)
        db.flush()
    return time.monotonic() - started


class StallProbe:
    """Sleeps PROBE_SECONDS at a time; the longest oversleep is the longest loop stall."""

    def __init__(self) -> None:
        self.longest = 0.0
        self._stop = False

    async def run(self) -> None:
        while not self._stop:
            before = time.monotonic()
            await asyncio.sleep(PROBE_SECONDS)
            self.longest = max(self.longest, time.monotonic() - before - PROBE_SECONDS)

    def stop(self) -> None:
        self._stop = True


async def measure(worker: InvoiceSyncApp, partitions: set[int], mode: str) -> dict[str, float]:
    probe = StallProbe()
    task = asyncio.create_task(probe.run())
    await asyncio.sleep(0.05)
    started, started_cpu = time.monotonic(), time.process_time()
    hold, hold_cpu = float("nan"), float("nan")
    if mode == "sliced":
        rebuild = IndexRebuild(
            worker.correlator, active=lambda: set(partitions), interrupted=lambda: False,
            records=worker.batch_store.scan, invoice_id_of=decode_key)
        rebuild.on_assigned(partitions)
        await rebuild.ensure()
        hold, hold_cpu = rebuild.longest_hold, rebuild.longest_hold_cpu
    else:  # the previous behaviour: one synchronous pass over every partition
        worker.correlator.rebuild(
            itertools.chain.from_iterable(map(worker.batch_store.scan, sorted(partitions))),
            partitions, decode_key)
    seconds, cpu = time.monotonic() - started, time.process_time() - started_cpu
    await asyncio.sleep(0.05)
    probe.stop()
    await task
    if mode != "sliced":
        hold, hold_cpu = seconds, cpu  # one pass: it held the loop the whole time
    return {"seconds": seconds, "cpu": cpu, "longest_stall": probe.longest,
            "longest_hold": hold, "longest_hold_cpu": hold_cpu,
            "pending": float(len(worker.correlator.pending))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=5_000_000)
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--pending-share", type=float, default=0.2,
                        help="share of records still pending (the rest synced, retained)")
    parser.add_argument("--mode", choices=["sliced", "at_once", "both"], default="both")
    parser.add_argument("--data-dir", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="rebuild-bench-", dir=args.data_dir) as tmp:
        worker = InvoiceSyncApp(Settings(data_dir=Path(tmp), partitions=args.partitions),
                                Metrics())
        filled = fill(worker, args.records, args.partitions, args.pending_share)
        print(f"filled {args.records:,} records in {args.partitions} partitions "
              f"({args.pending_share:.0%} pending) in {filled:.1f} s", flush=True)
        modes = ["sliced", "at_once"] if args.mode == "both" else [args.mode]
        for mode in modes:
            result = asyncio.run(measure(worker, set(range(args.partitions)), mode))
            print(f"{mode:8} rebuild {result['seconds']:.2f} s ({result['cpu']:.2f} s CPU), "
                  f"5 ms timer late by {result['longest_stall'] * 1000:.1f} ms at most, "
                  f"longest hold between yields {result['longest_hold'] * 1000:.1f} ms "
                  f"({result['longest_hold_cpu'] * 1000:.1f} ms CPU), "
                  f"pending {int(result['pending']):,}", flush=True)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak RSS {peak:.0f} MiB")


if __name__ == "__main__":
    main()
