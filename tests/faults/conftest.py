"""Fault-suite fixtures: one real broker for the session (a scenario may stop and restart it on
the same port and data dir), and a stack of the test's own topics and group on it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.localkafka.broker import BrokerInfo
from pipeline.localkafka.testing import running_broker
from tests.faults.harness import FaultStack


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerInfo]:
    with running_broker(tmp_path_factory.mktemp("fault-broker")) as info:
        yield info


@pytest.fixture
def stack(broker: BrokerInfo, tmp_path: Path) -> Iterator[FaultStack]:
    """6 partitions per input topic unless the test sets ``stack.use_partitions(n)``."""
    with FaultStack(broker.bootstrap, f"f{uuid.uuid4().hex[:8]}", tmp_path) as s:
        yield s
