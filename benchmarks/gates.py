"""Issue 11's gates 1 and 2: the ceiling of the batched design before the worker is built on it.

``python -m benchmarks.gates [--events N] [--gate 1 --gate 2] [--repeat K]``

Starts its own broker, produces the benchmark backlog (benchmarks/data.py: valid issued events
and acks on 6+6 partitions) once, then for each gate launches a fresh faust process
(benchmarks/gate_app.py, fresh group and state dir) and measures from launch until the group's
committed offsets reach every input partition's end. Prints events/s, the process's CPU seconds
per event (utime + stime of all its threads, /proc/PID/stat), and /proc/loadavg beside each
figure: the machine is shared, so a run at a high load is noisy (repeat with --repeat).

Gate 1: batch transport + an agent that does nothing (target >= 150,000 events/s).
Gate 2: + a synthetic record per event in the table's RocksDB (one WriteBatch per batch) and its
changelog (one record per changed key, produced as a batch, awaited) (target >= 100,000).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError

from benchmarks import data
from pipeline.localkafka.testing import running_broker

PARTITIONS = 6
TARGETS = {1: 150_000, 2: 100_000}
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime


async def _create_topics(bootstrap: str, names: list[str]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(n, PARTITIONS, 1) for n in names])
    finally:
        await admin.close()


async def _lag(bootstrap: str, group: str, ends: dict[TopicPartition, int]) -> int:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        committed = await admin.list_consumer_group_offsets(group)
    except KafkaError:  # the group's coordinator is not there yet
        return -1
    finally:
        await admin.close()
    return sum(max(0, end - (committed[tp].offset if tp in committed else 0))
               for tp, end in ends.items())


async def _end_offsets(bootstrap: str, topics: list[str]) -> dict[TopicPartition, int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        tps = [TopicPartition(t, p) for t in topics for p in range(PARTITIONS)]
        ends: dict[TopicPartition, int] = await consumer.end_offsets(tps)
        return ends
    finally:
        await consumer.stop()


def run_gate(gate: int, bootstrap: str, topics: data.Topics, tmp: Path, run: int,
             total: int, ends: dict[TopicPartition, int], log: Path) -> dict[str, float]:
    """Launch the gate app and wait until its group committed every input partition's end.

    ``rate``/``cpu``: from launch (faust's start-up and group join included);
    ``steady_rate``/``steady_cpu``: from the first committed progress to the end (the ceiling
    once running; commits land every second, so this starts within ~1 s of the first batch).
    """
    app_id = f"gate{gate}-run{run}"
    args = [sys.executable, "-m", "benchmarks.gate_app", str(gate), bootstrap, app_id,
            str(tmp / app_id), topics.issued, topics.acknowledged]
    with log.open("ab") as out:
        started = time.monotonic()
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)
        try:
            cpu = 0.0
            first: tuple[float, float, int] | None = None
            while True:
                time.sleep(0.25)
                if proc.poll() is not None:
                    raise RuntimeError(f"gate {gate} app exited {proc.returncode}; see {log}")
                cpu = _cpu_seconds(proc.pid)
                lag = asyncio.run(_lag(bootstrap, app_id, ends))
                if first is None and 0 <= lag < total:
                    first = (time.monotonic(), cpu, lag)
                if lag == 0:
                    break
                if time.monotonic() - started > 600:
                    raise RuntimeError(f"gate {gate} app did not finish in 600 s; see {log}")
            ended = time.monotonic()
        finally:
            proc.terminate()
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    assert first is not None
    first_at, first_cpu, first_lag = first
    steady_seconds = max(ended - first_at, 1e-9)
    return {"rate": total / (ended - started), "cpu": cpu / total,
            "steady_rate": first_lag / steady_seconds if first_lag else float("nan"),
            "steady_cpu": (cpu - first_cpu) / first_lag if first_lag else float("nan")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000,
                        help="backlog size in events (issued + acks), default 1,000,000")
    parser.add_argument("--gate", type=int, action="append", choices=(1, 2),
                        help="which gate (repeatable; default both)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per gate")
    parser.add_argument("--log", type=Path, default=Path("var/bench/gates.log"))
    args = parser.parse_args(argv)
    gates = args.gate or [1, 2]
    args.log.parent.mkdir(parents=True, exist_ok=True)
    args.log.write_bytes(b"")
    acked = args.events // 20
    pending = args.events - 2 * acked
    with tempfile.TemporaryDirectory(prefix="invoice-sync-gates-") as tmp_name:
        tmp = Path(tmp_name)
        with running_broker(tmp) as broker:
            topics = data.Topics("gates.invoice.issued", "gates.invoice.acknowledged")
            asyncio.run(_create_topics(broker.bootstrap, [topics.issued, topics.acknowledged]))
            started = time.monotonic()
            total = asyncio.run(data.produce(broker.bootstrap, topics,
                                             data.backlog(pending, acked, time.time())))
            print(f"produced {total:,} events in {time.monotonic() - started:.1f} s "
                  f"(load {_load()})", flush=True)
            ends = asyncio.run(_end_offsets(broker.bootstrap,
                                            [topics.issued, topics.acknowledged]))
            failed = False
            for gate in gates:
                for run in range(args.repeat):
                    before = _load()
                    got = run_gate(gate, broker.bootstrap, topics, tmp, run, total, ends,
                                   args.log)
                    rate = got["rate"]
                    verdict = "met" if rate >= TARGETS[gate] else "NOT MET"
                    failed |= rate < TARGETS[gate]
                    print(f"gate {gate} run {run + 1}: launch -> committed end "
                          f"{rate:,.0f} events/s, {got['cpu'] * 1e6:.2f} us CPU per event "
                          f"(target {TARGETS[gate]:,}: {verdict}); steady (first commit -> end) "
                          f"{got['steady_rate']:,.0f} events/s, "
                          f"{got['steady_cpu'] * 1e6:.2f} us CPU per event; "
                          f"loadavg before {before}, after {_load()}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
