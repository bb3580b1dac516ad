"""A worker under measurement: the real ``invoice-sync worker`` process, its /metrics and /readyz,
and its memory as the kernel reports it (/proc/<pid>/status)."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

POLL = 0.1
T = TypeVar("T")

_SAMPLE = re.compile(r"^([a-z_]+)(\{[^}]*\})? ([0-9.e+-]+)$", re.M)


class WorkerGone(RuntimeError):
    """The worker process exited while it was being measured."""


class BenchWorker:
    """One worker process started with ``env``; its output goes to ``log_path``."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.env = env
        self.log_path = log_path
        self.port = int(env["INVOICE_SYNC_WEB_PORT"])
        self.proc: subprocess.Popen[bytes] | None = None
        self.started_at = 0.0

    def start(self) -> BenchWorker:
        with self.log_path.open("ab") as log:
            self.started_at = time.monotonic()
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "pipeline.cli", "worker"], env=self.env,
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def _alive(self) -> None:
        assert self.proc is not None
        if self.proc.poll() is not None:
            tail = self.log_path.read_text(errors="replace").splitlines()[-30:]
            raise WorkerGone(f"worker exited with {self.proc.returncode}:\n" + "\n".join(tail))

    def _get(self, path: str) -> tuple[int, bytes] | None:
        self._alive()
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=5) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()
        except OSError:
            return None

    def ready(self) -> bool:
        """/readyz answers 200."""
        answer = self._get("/readyz")
        return answer is not None and answer[0] == 200

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
            self._alive()
            samples.append(self.memory()["VmRSS"])
            if len(samples) >= 3 and max(samples[-3:]) - min(samples[-3:]) <= 1024 * 1024:
                break
            time.sleep(0.5)
        return samples[-1]

    def stop(self, timeout: float = 120.0) -> int:
        """SIGTERM (a clean shutdown that commits offsets), SIGKILL after ``timeout``."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


def poll(condition: Callable[[], T | None], timeout: float, what: str,
         interval: float = POLL) -> T:
    """Call ``condition`` every ``interval`` seconds until it returns something truthy; raise
    after ``timeout``. A poll of /metrics costs the worker a page render: long waits poll less."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)
