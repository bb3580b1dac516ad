"""Helpers for test suites that need a real broker."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pipeline.localkafka.broker import BrokerInfo, start, status, stop
from pipeline.localkafka.ports import free_port

__all__ = ["free_port", "restart_broker", "running_broker", "stop_broker"]


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


def stop_broker(info: BrokerInfo) -> None:
    """Stop ``info``'s broker (a clean SIGTERM shutdown); its storage and ports stay reserved
    for :func:`restart_broker`. For fault tests: clients see the broker go away."""
    if not stop(info.data_dir):
        raise RuntimeError(f"the broker of {info.data_dir} was not running")


def restart_broker(info: BrokerInfo, *, timeout: float = 90) -> BrokerInfo:
    """Start ``info``'s broker again on the same port, controller port and data dir (its topics,
    offsets and group state kept), once it answers; stops a running one first.

    Clients configured with ``info.bootstrap`` reconnect to it as to a broker that came back.
    """
    if status(info.data_dir) is not None:
        stop(info.data_dir)
    return start(info.port, info.data_dir, timeout=timeout, controller_port=info.controller_port)
