"""An ``invoice-sync worker`` run as a child process: start, ask its web port, stop.

Shared by the integration tests' harness and the benchmark, which add their own waiting and
measuring on top; the demo starts its worker the same way.
"""

from __future__ import annotations

import secrets
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
    ``log_path``; its web port is INVOICE_SYNC_WEB_PORT.

    Unless ``env`` configures the API's authentication itself, the worker gets one operator
    token of its own (:attr:`api_token`), which :meth:`http` sends."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.api_token: str | None = None
        if not any(k in env for k in ("INVOICE_SYNC_API_AUTH", "INVOICE_SYNC_API_TOKENS",
                                      "INVOICE_SYNC_API_TOKENS_FILE")):
            self.api_token = secrets.token_urlsafe(24)
            env = {**env, "INVOICE_SYNC_API_TOKENS": f"harness:operator:{self.api_token}"}
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

    def http(self, path: str, timeout: float = 5.0, *, token: str | None = None,
             method: str = "GET", body: bytes | None = None) -> tuple[int, bytes]:
        """``method`` ``path`` on the worker: (status, body); OSError if nothing answers.

        Sends ``token`` (default: :attr:`api_token`) as the bearer token; ``token=""`` none."""
        token = self.api_token if token is None else token
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        if body is not None:
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", data=body,
                                         headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
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
