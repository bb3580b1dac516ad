"""Integration fixtures: one real Kafka broker per test session (started here, stopped after),
and worker processes run as the real console script."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.localkafka.broker import BrokerInfo
from pipeline.localkafka.testing import running_broker
from tests.integration.harness import Stack


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerInfo]:
    with running_broker(tmp_path_factory.mktemp("broker")) as info:
        yield info


@pytest.fixture
def stack(broker: BrokerInfo, tmp_path: Path) -> Iterator[Stack]:
    """Topics, consumer group and state dirs of this test only (a unique prefix), on the
    session's broker. Workers started through it are stopped at the end."""
    prefix = f"t{uuid.uuid4().hex[:8]}"
    with Stack(broker.bootstrap, prefix, tmp_path) as s:
        yield s
