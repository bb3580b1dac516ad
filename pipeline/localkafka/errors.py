"""The one error type of the local broker manager."""

from __future__ import annotations


class LocalKafkaError(RuntimeError):
    """Something kept the local broker from being fetched, started or stopped.

    ``summary`` is one line fit for a CLI; ``detail`` (for example the tail of the broker's log)
    is appended to ``str(error)`` so that tracebacks and pytest show it.
    """

    def __init__(self, summary: str, detail: str = "") -> None:
        self.summary = summary
        self.detail = detail
        super().__init__(summary if not detail else f"{summary}\n{detail}")
