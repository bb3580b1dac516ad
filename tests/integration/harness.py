"""Drive real worker processes against the real broker: start, kill, produce, collect alerts.

Every wait here polls a condition with a deadline; nothing sleeps a fixed time in place of it.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from types import TracebackType
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from pipeline.localkafka.ports import free_port
from pipeline.worker.process import WorkerProcess as BaseWorkerProcess
from pipeline.worker.process import wait_for


class WorkerProcess(BaseWorkerProcess):
    """One ``invoice-sync worker`` process with its own state dir and web port."""

    def wait_ready(self, timeout: float = 90) -> WorkerProcess:
        wait_for(self.ready, timeout, f"worker on :{self.port} to be ready")
        return self

    def metrics(self) -> str:
        return self.http("/metrics")[1].decode()


class Stack:
    """A test's own topics and consumer group on the shared broker."""

    def __init__(self, bootstrap: str, prefix: str, tmp: Path) -> None:
        self.bootstrap = bootstrap
        self.prefix = prefix
        self.tmp = tmp
        self.workers: list[WorkerProcess] = []
        self.topics = {
            "issued": f"{prefix}.invoice.issued",
            "acknowledged": f"{prefix}.invoice.acknowledged",
            "alerts": f"{prefix}.invoice.sync.alerts",
            "dlq": f"{prefix}.invoice.sync.dlq",
            "actions": f"{prefix}.invoice.sync.actions",
            # Only read by workers started with TOPIC_SUBMITTED=stack.topics["submitted"].
            "submitted": f"{prefix}.invoice.submitted",
        }
        # One token set for the whole group (as one Secret would be): forwarded requests carry
        # the caller's token to the other worker.
        self.read_token = secrets.token_urlsafe(24)
        self.operator_token = secrets.token_urlsafe(24)

    def __enter__(self) -> Stack:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        for worker in self.workers:
            if worker.proc is not None and worker.proc.poll() is None:
                worker.kill()
        if exc is not None:
            self.write_log_tails()

    def write_log_tails(self, lines: int = 120) -> None:
        """Each worker's last log lines, on stderr (shown in pytest's report of a failure)."""
        for worker in self.workers:
            sys.stderr.write(f"--- worker :{worker.port} log tail ---\n{worker.tail(lines)}\n")

    def worker_env(self, name: str = "w1", **settings: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("INVOICE_SYNC_")}
        port = free_port()
        env.update({
            "INVOICE_SYNC_BROKER": f"kafka://{self.bootstrap}",
            "INVOICE_SYNC_APP_ID": f"{self.prefix}-invoice-sync",
            "INVOICE_SYNC_TOPIC_ISSUED": self.topics["issued"],
            "INVOICE_SYNC_TOPIC_ACKNOWLEDGED": self.topics["acknowledged"],
            "INVOICE_SYNC_TOPIC_ALERTS": self.topics["alerts"],
            "INVOICE_SYNC_TOPIC_DLQ": self.topics["dlq"],
            "INVOICE_SYNC_TOPIC_TICKS": f"{self.prefix}.ticks",
            "INVOICE_SYNC_TOPIC_ACTIONS": self.topics["actions"],
            "INVOICE_SYNC_TOPIC_EVIDENCE": f"{self.prefix}.evidence",
            "INVOICE_SYNC_TOPIC_MAINTENANCE": f"{self.prefix}.maintenance",
            "INVOICE_SYNC_PARTITIONS": "4",
            "INVOICE_SYNC_DATA_DIR": str(self.tmp / name / "state"),
            "INVOICE_SYNC_WEB_PORT": str(port),
            "INVOICE_SYNC_ADVERTISED_URL": f"http://127.0.0.1:{port}",
            "INVOICE_SYNC_WEB_BIND": "127.0.0.1",
            "INVOICE_SYNC_WARN_AFTER": "4s",
            "INVOICE_SYNC_CRITICAL_AFTER": "600s",
            "INVOICE_SYNC_SESSION_TIMEOUT": "6s",
            "INVOICE_SYNC_LOG_LEVEL": "INFO",
            "INVOICE_SYNC_API_TOKENS": f"reader:read:{self.read_token},"
                                       f"ops:operator:{self.operator_token}",
        })
        env.update({f"INVOICE_SYNC_{k.upper()}": v for k, v in settings.items()})
        return env

    def worker(self, name: str = "w1", **settings: str) -> WorkerProcess:
        """A started (not yet ready) worker."""
        worker = WorkerProcess(self.worker_env(name, **settings), self.tmp / f"{name}.log")
        worker.api_token = self.operator_token
        self.workers.append(worker)
        return worker.start()

    def restart(self, worker: WorkerProcess) -> WorkerProcess:
        """Start ``worker``'s process again with the same state dir and settings."""
        return worker.start()

    def create_topics(self, **settings: str) -> None:
        """Create this test's topics as a worker would (before producing to them)."""
        from pipeline.settings import Settings
        from pipeline.topics import ensure_topics

        env = self.worker_env(**settings)
        overrides = {k.removeprefix("INVOICE_SYNC_").lower(): v for k, v in env.items()
                     if k.startswith("INVOICE_SYNC_")}
        asyncio.run(ensure_topics(Settings.model_validate(overrides)))

    # -- Kafka I/O --------------------------------------------------------------------

    def produce(self, role: str, records: Iterable[tuple[bytes | None, bytes | None]]) -> None:
        """Produce ``(key, value)`` records to the topic of ``role`` and wait for the acks."""
        asyncio.run(self._produce(self.topics[role], list(records)))

    async def _produce(self, topic: str, records: list[tuple[bytes | None, bytes | None]]) -> None:
        producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, acks="all",
                                    max_request_size=4 * 1024 * 1024)
        await producer.start()
        try:
            for key, value in records:
                await producer.send_and_wait(topic, value=value, key=key)
        finally:
            await producer.stop()

    def produce_events(self, role: str, events: Iterable[dict[str, Any]]) -> None:
        """Produce JSON events keyed by their invoice_id."""
        self.produce(role, [(e["invoice_id"].encode(), orjson.dumps(e)) for e in events])

    def read(self, role: str, until: Callable[[list[Any]], bool], timeout: float = 60,
             ) -> list[Any]:
        """Read ``role``'s topic from the start until ``until(records)`` holds."""
        return asyncio.run(self._read(self.topics[role], until, timeout))

    def read_topic(self, topic: str, until: Callable[[list[Any]], bool], timeout: float = 60,
                   ) -> list[Any]:
        """Read any topic by name (e.g. a table's changelog) from the start until ``until``."""
        return asyncio.run(self._read(topic, until, timeout))

    async def _read(self, topic: str, until: Callable[[list[Any]], bool],
                    wait_seconds: float) -> list[Any]:
        consumer = AIOKafkaConsumer(topic, bootstrap_servers=self.bootstrap,
                                    auto_offset_reset="earliest", enable_auto_commit=False)
        await consumer.start()
        records: list[Any] = []
        deadline = time.monotonic() + wait_seconds
        try:
            while not until(records):
                if time.monotonic() > deadline:
                    raise AssertionError(
                        f"timed out after {wait_seconds}s reading {topic}; got {len(records)}: "
                        f"{[r.value[:200] for r in records][:20]}")
                batch = await consumer.getmany(timeout_ms=500)
                for part in batch.values():
                    records.extend(part)
        finally:
            await consumer.stop()
        return records

    def alerts(self, until: Callable[[list[dict[str, Any]]], bool],
               timeout: float = 60) -> list[dict[str, Any]]:
        """Alert events read from the start until ``until(alerts)`` holds."""
        records = self.read("alerts", lambda rs: until([orjson.loads(r.value) for r in rs]),
                            timeout)
        return [orjson.loads(r.value) for r in records]
