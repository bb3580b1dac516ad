"""Sample a worker with py-spy while it works, and say where its time went.

``py-spy record --format raw`` writes collapsed stacks (``frame;frame;... count``); the summary
gives each function's inclusive share (time with it on the stack) and self share (at the top).
Run on a saved profile: ``python -m benchmarks.profile var/bench/profile-....txt``.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path


class Sampler:
    """A py-spy process recording ``pid`` into ``path`` until :meth:`stop`."""

    def __init__(self, pid: int, path: Path, rate: int = 100) -> None:
        exe = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
        self.path = path
        self.proc = subprocess.Popen(
            [exe, "record", "--pid", str(pid), "--rate", str(rate), "--format", "raw",
             "--nonblocking", "--output", str(path)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def stop(self) -> Path:
        """End sampling (py-spy writes its output on SIGINT)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.path


def _frame_name(frame: str) -> str:
    # py-spy frames read "function (path/to/module.py:line)"; keep function and file name.
    name, _, where = frame.partition(" (")
    module = where.rsplit("/", 1)[-1].split(":", 1)[0]
    return f"{name} ({module})" if module else name


def summarize(path: Path, top: int = 25) -> str:
    """Inclusive and self shares of the busiest functions in a raw py-spy profile."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_frame_name(f) for f in stack.split(";")]
        total += count
        for name in set(frames):
            inclusive[name] += count
        own[frames[-1]] += count
    if not total:
        return "no samples"
    lines = [f"{total} samples", "inclusive:"]
    lines += [f"  {100 * n / total:5.1f}%  {name}" for name, n in inclusive.most_common(top)]
    lines.append("self:")
    lines += [f"  {100 * n / total:5.1f}%  {name}" for name, n in own.most_common(top)]
    return "\n".join(lines)


if __name__ == "__main__":
    print(summarize(Path(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 25))
