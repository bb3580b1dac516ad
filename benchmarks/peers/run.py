"""Timing one peer: from process launch to its consumer group's committed end offsets."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

POLL_S = 0.25
_TICK = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class PeerResult:
    """What one peer run measured."""

    name: str
    events: int
    seconds: float
    cpu_seconds: float
    peak_rss_bytes: int
    #: records in the peer's changelog topics: one per state write, the proof it did the join
    changelog_records: int

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds

    @property
    def cpu_us_per_event(self) -> float:
        return self.cpu_seconds / self.events * 1e6

    def as_dict(self) -> dict[str, float | int | str]:
        return {"name": self.name, "events": self.events, "seconds": round(self.seconds, 3),
                "events_per_second": round(self.events_per_second),
                "cpu_seconds": round(self.cpu_seconds, 2),
                "cpu_us_per_event": round(self.cpu_us_per_event, 1),
                "peak_rss_bytes": self.peak_rss_bytes,
                "changelog_records": self.changelog_records}


async def end_offsets(bootstrap: str, topics: list[str]) -> dict[TopicPartition, int]:
    """The end offset of every partition of ``topics``."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics(topics)
    finally:
        await admin.close()
    parts = [TopicPartition(t["topic"], p["partition"]) for t in described
             for p in t["partitions"]]
    if len(parts) < len(topics):
        raise RuntimeError(f"no partitions found for {topics}")
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        ends: dict[TopicPartition, int] = await consumer.end_offsets(parts)
        return ends
    finally:
        await consumer.stop()


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds the process has used so far (all its threads)."""
    # /proc/<pid>/stat: utime and stime (fields 14, 15) of every thread of the process
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


def _peak_rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


async def _committed_end(admin: AIOKafkaAdminClient, group: str,
                         ends: dict[TopicPartition, int]) -> bool:
    try:
        committed = await admin.list_consumer_group_offsets(group)
    except Exception:  # the group does not exist yet, or is rebalancing
        return False
    return all(tp in committed and committed[tp].offset >= end for tp, end in ends.items())


async def _wait(process: subprocess.Popen[bytes], bootstrap: str, group: str,
                ends: dict[TopicPartition, int], limit_s: float, name: str) -> float:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        deadline = time.monotonic() + limit_s
        while not await _committed_end(admin, group, ends):
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited with {process.returncode} before its group "
                                   f"committed the end offsets")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{name}: group {group} not at the end after {limit_s:.0f}s")
            await asyncio.sleep(POLL_S)
        return time.monotonic()
    finally:
        await admin.close()


def measure(name: str, command: list[str], bootstrap: str, group: str,
            ends: dict[TopicPartition, int], log: Path, timeout: float = 1800.0) -> PeerResult:
    """Launch ``command``, wait until ``group`` has committed every end offset, stop it.

    The time runs from launch (JVM or interpreter start, group join and state set-up included)
    to the poll that saw the committed end; CPU seconds are the process's own at that moment.
    """
    events = sum(ends.values())
    with open(log, "ab") as out:
        out.write(f"--- {name}: {' '.join(command)}\n".encode())
        out.flush()
        started = time.monotonic()
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        try:
            done = asyncio.run(_wait(process, bootstrap, group, ends, timeout, name))
            cpu, peak = cpu_seconds(process.pid), _peak_rss(process.pid)
        finally:
            _stop(process)
    changelog = asyncio.run(_changelog_records(bootstrap, group))
    return PeerResult(name, events, done - started, cpu, peak, changelog)


async def _changelog_records(bootstrap: str, group: str) -> int:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        names = [t for t in await admin.list_topics() if group in t and "changelog" in t]
    finally:
        await admin.close()
    return sum((await end_offsets(bootstrap, names)).values()) if names else 0


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
