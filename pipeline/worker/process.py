"""An ``invoice-sync worker`` run as a child process: start, ask its web port, stop.

Shared by the integration tests' harness and the benchmark, which add their own waiting and
measuring on top; the demo starts its worker the same way.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Self, TypeVar

T = TypeVar("T")


class WorkerExited(RuntimeError):
    """The worker process ended while it was expected to run."""


class WaitTimeout(AssertionError):
    """A condition did not hold in time (an AssertionError: in tests it is a failure)."""


def wait_for(condition: Callable[[], T | None], timeout: float, what: str,
             interval: float = 0.2) -> T:
    """Call ``condition`` every ``interval`` seconds until it returns something truthy (and
    return that); WaitTimeout after ``timeout`` seconds. Never a fixed sleep in its place."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise WaitTimeout(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


class WorkerProcess:
    """One worker process started with ``env`` (INVOICE_SYNC_* settings); output to
    ``log_path``; its web port is INVOICE_SYNC_WEB_PORT."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.env = env
        self.log_path = log_path
        self.port = int(env["INVOICE_SYNC_WEB_PORT"])
        self.proc: subprocess.Popen[bytes] | None = None
        self.started_at = 0.0

    def start(self) -> Self:
        """Launch the process (its own session, so a test's Ctrl-C does not reach it)."""
        with self.log_path.open("ab") as log:  # the child keeps its own descriptor
            self.started_at = time.monotonic()
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "pipeline.cli", "worker"], env=self.env,
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def check_alive(self) -> None:
        """Raise WorkerExited, with the log's tail, if the process has ended."""
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise WorkerExited(f"worker exited with {self.proc.returncode}:\n{self.tail()}")

    def http(self, path: str, timeout: float = 5.0) -> tuple[int, bytes]:
        """GET ``path`` on the worker: (status, body); OSError if nothing answers."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}",
                                        timeout=timeout) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def ready(self) -> bool:
        """/readyz answers 200 (WorkerExited if the process has ended)."""
        self.check_alive()
        try:
            return self.http("/readyz")[0] == 200
        except OSError:
            return False

    def terminate(self, timeout: float = 60.0) -> int:
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

    def kill(self) -> None:
        """SIGKILL: no shutdown, no final commit."""
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait()

    def tail(self, lines: int = 60) -> str:
        """The last lines of the worker's output."""
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""
