"""Helpers for test suites that need a real broker."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pipeline.localkafka.broker import BrokerInfo, start, stop
from pipeline.localkafka.ports import free_port

__all__ = ["free_port", "running_broker"]


@contextmanager
def running_broker(tmp_dir: Path, *, timeout: float = 90) -> Iterator[BrokerInfo]:
    """A broker on free ports with a fresh data dir under ``tmp_dir``, stopped on exit.

    The data dir is ``tmp_dir / "kafka"``, newly formatted, so topics never leak between runs.
    """
    data_dir = tmp_dir / "kafka"
    if data_dir.exists() and any(data_dir.iterdir()):
        raise ValueError(f"{data_dir} is not empty; running_broker needs a fresh directory")
    info = start(free_port(), data_dir, timeout=timeout)
    try:
        yield info
    finally:
        stop(data_dir)
