"""The broker's JVM as an operating-system process: spawning, recognising, ending it."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

POLL_S = 0.1

# Brokers this Python process spawned. Holding the Popen keeps it from warning when collected
# and lets us reap the child, which would otherwise linger as a zombie that still "exists".
_children: dict[int, subprocess.Popen[bytes]] = {}


def spawn(command: Sequence[str], output: Path, cwd: Path) -> int:
    """Start ``command`` detached (own session, no stdin), appending stdout+stderr to ``output``."""
    output.parent.mkdir(parents=True, exist_ok=True)
    with open(output, "ab") as sink:
        child = subprocess.Popen(
            list(command),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    _children[child.pid] = child
    return child.pid


def exit_code(pid: int) -> int | None:
    """Exit status of a child we spawned that has ended; None while it runs or if not ours."""
    child = _children.get(pid)
    code = None if child is None else child.poll()
    if code is not None:
        del _children[pid]  # reaped: nothing more to ask it
    return code


def is_running(pid: int, marker: str) -> bool:
    """Whether ``pid`` is alive and its command line contains ``marker``.

    The marker (the path of the broker's config) guards against a recycled pid; zombies count
    as ended.
    """
    child = _children.get(pid)
    if child is not None:
        # Our own child: its pid cannot be recycled before we reap it, and poll() must be the
        # one to reap it (a bare waitpid would leave Popen thinking it still runs).
        return child.poll() is None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, another user's: the command line check below decides
    proc = Path("/proc") / str(pid)
    if not proc.is_dir():  # no procfs (not Linux): the signal check is all we have
        return True
    try:
        stat = (proc / "stat").read_text()
        cmdline = (proc / "cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    if stat.rsplit(")", 1)[-1].split()[0] in {"Z", "X"}:
        _reap(pid)
        return False
    return any(marker.encode() in part for part in cmdline)


def terminate(pid: int, marker: str, grace: float = 30.0) -> None:
    """SIGTERM ``pid``, wait up to ``grace`` seconds for it to exit, then SIGKILL it."""
    for sig, wait_s in ((signal.SIGTERM, grace), (signal.SIGKILL, 10.0)):
        if not is_running(pid, marker):
            break
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + wait_s
        while is_running(pid, marker) and time.monotonic() < deadline:
            time.sleep(POLL_S)
    if not is_running(pid, marker):
        _children.pop(pid, None)


def _reap(pid: int) -> None:
    # Not our child: its parent (or init) reaps it.
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
