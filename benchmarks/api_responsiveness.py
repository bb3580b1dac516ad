"""How fast /healthz answers while /summary and a /pending filter that matches nothing run.

``python -m benchmarks.api_responsiveness [--invoices N]``: a local broker, one worker, N pending
invoices, then two client threads asking /summary and /pending?region_code=<none> in a loop
while a third asks /healthz every 20 ms; prints the latency percentiles of each. The scans yield
to the event loop every 2,000 records and /pending stops at INVOICE_SYNC_API_SCAN_BUDGET, so
/healthz should stay in milliseconds whatever N is. Figures are only as quiet as the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
from aiokafka import AIOKafkaProducer

from pipeline.contracts.samples import sample_issued
from pipeline.localkafka.ports import free_port
from pipeline.localkafka.testing import running_broker
from pipeline.worker.process import WorkerProcess, wait_for


async def _produce(bootstrap: str, count: int) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=20,
                                max_batch_size=1 << 20)
    await producer.start()
    try:
        start = datetime.now(UTC) - timedelta(minutes=30)
        for i in range(count):
            event = sample_issued(seq=10_000 + i,
                                  issued_at=(start + timedelta(milliseconds=i)).isoformat())
            await producer.send("invoice.issued", orjson.dumps(event),
                                key=event["invoice_id"].encode())
        await producer.flush()
    finally:
        await producer.stop()


def _timed(worker: WorkerProcess, path: str) -> float:
    began = time.perf_counter()
    status, _ = worker.http(path, timeout=120)
    if status != 200:
        raise RuntimeError(f"{path} answered {status}")
    return time.perf_counter() - began


def _percentiles(name: str, samples: list[float]) -> str:
    ordered = sorted(samples)

    def p(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    return (f"{name:<34} n={len(ordered):>5}  p50 {p(0.5):8.1f} ms  p99 {p(0.99):8.1f} ms  "
            f"max {ordered[-1] * 1000:8.1f} ms  mean {statistics.fmean(ordered) * 1000:8.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invoices", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="api-responsiveness-") as tmp, \
            running_broker(Path(tmp)) as broker:
        port = free_port()
        env = {**os.environ, "INVOICE_SYNC_BROKER": f"kafka://{broker.bootstrap}",
               "INVOICE_SYNC_DATA_DIR": f"{tmp}/state", "INVOICE_SYNC_WEB_PORT": str(port),
               "INVOICE_SYNC_ADVERTISED_URL": f"http://127.0.0.1:{port}",
               "INVOICE_SYNC_WARN_AFTER": "1h", "INVOICE_SYNC_CRITICAL_AFTER": "2h",
               "INVOICE_SYNC_LOG_LEVEL": "WARNING"}
        worker = WorkerProcess(env, Path(tmp, "worker.log")).start()
        try:
            wait_for(worker.ready, 120, "the worker to be ready")
            asyncio.run(_produce(broker.bootstrap, args.invoices))
            wait_for(lambda: orjson.loads(worker.http("/summary", timeout=120)[1])
                     .get("pending") == args.invoices, 600, "every invoice to be pending")
            results: dict[str, list[float]] = {"summary": [], "pending": [], "healthz": []}
            stop = time.monotonic() + args.seconds

            def loop(name: str, path: str, pause: float) -> None:
                while time.monotonic() < stop:
                    results[name].append(_timed(worker, path))
                    time.sleep(pause)

            threads = [threading.Thread(target=loop, args=a) for a in (
                ("summary", "/summary", 0.0),
                ("pending", "/pending?region_code=999999&limit=100", 0.0),
                ("healthz", "/healthz", 0.02))]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            print(f"{args.invoices} pending invoices, one worker, {args.seconds:g} s, "
                  f"{os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.1f}")
            print(_percentiles("/summary (whole table)", results["summary"]))
            print(_percentiles("/pending matching nothing (1 page)", results["pending"]))
            print(_percentiles("/healthz meanwhile", results["healthz"]))
        finally:
            worker.terminate(60)


if __name__ == "__main__":
    main()
