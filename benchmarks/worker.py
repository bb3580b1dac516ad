"""A worker under measurement: the real ``invoice-sync worker`` process, its /metrics and /readyz,
and its memory as the kernel reports it (/proc/<pid>/status)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from pipeline.worker.process import WorkerProcess, wait_for

POLL = 0.1
T = TypeVar("T")

_SAMPLE = re.compile(r"^([a-z_]+)(\{[^}]*\})? ([0-9.e+-]+)$", re.M)


class BenchWorker(WorkerProcess):
    """A worker process under measurement: its metrics, memory and stop."""

    def _get(self, path: str) -> tuple[int, bytes] | None:
        self.check_alive()
        try:
            return self.http(path)
        except OSError:
            return None

    def metric(self, name: str) -> float | None:
        """Sum of every sample of ``name`` on /metrics (None while the page is unreachable)."""
        answer = self._get("/metrics")
        if answer is None or answer[0] != 200:
            return None
        samples = _SAMPLE.findall(answer[1].decode())
        return sum(float(value) for metric, _, value in samples if metric == name)

    def memory(self) -> dict[str, int]:
        """VmRSS and VmHWM (peak RSS) in bytes."""
        fields: dict[str, int] = {}
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                fields[key] = int(rest.split()[0]) * 1024
        return fields

    def settled_rss(self, timeout: float = 30.0) -> int:
        """RSS once it stops moving: three samples 0.5 s apart within 1 MiB (or at timeout)."""
        samples: list[int] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            samples.append(self.memory()["VmRSS"])
            if len(samples) >= 3 and max(samples[-3:]) - min(samples[-3:]) <= 1024 * 1024:
                break
            time.sleep(0.5)
        return samples[-1]

    def stop(self, timeout: float = 120.0) -> int:
        """SIGTERM (a clean shutdown that commits offsets), SIGKILL after ``timeout``."""
        return self.terminate(timeout)


def poll(condition: Callable[[], T | None], timeout: float, what: str,
         interval: float = POLL) -> T:
    """``wait_for`` at the benchmark's interval: a poll of /metrics costs the worker a page
    render, so long waits poll less."""
    return wait_for(condition, timeout, what, interval=interval)
