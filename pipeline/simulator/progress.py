"""A dependency-free progress line on stderr for long simulations."""

from __future__ import annotations

import time
from typing import TextIO

_WIDTH = 30


class Progress:
    """Redraws one line (on a terminal) or prints a line every few seconds (elsewhere).

    Disabled instances do nothing, so callers need not check.
    """

    def __init__(self, stream: TextIO, *, enabled: bool, total: int) -> None:
        self.stream = stream
        self.enabled = enabled
        self.total = max(1, total)
        self.tty = enabled and stream.isatty()
        self._started = time.monotonic()
        self._shown = 0.0

    def update(self, issued: int, records: int, lag: float, *, force: bool = False) -> None:
        """Show ``issued`` of ``total`` invoices, records sent and the producer's lag."""
        if not self.enabled:
            return
        now = time.monotonic()
        if not force and now - self._shown < (0.2 if self.tty else 5.0):
            return
        self._shown = now
        elapsed = now - self._started
        done = min(1.0, issued / self.total)
        bar = "#" * int(done * _WIDTH)
        line = (f"[{bar:<{_WIDTH}}] {issued}/{self.total} invoices, {records} records, "
                f"{records / elapsed if elapsed > 0 else 0.0:.0f}/s, lag {lag:.2f}s, "
                f"{elapsed:.0f}s")
        if issued >= self.total:
            line += " (sending the last acknowledgements)"
        if self.tty:
            self.stream.write("\r" + line + "\x1b[K")
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def close(self) -> None:
        """End the progress line."""
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()
