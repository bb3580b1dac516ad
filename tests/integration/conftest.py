"""Integration fixtures: one real Kafka broker per test session (started here, stopped after),
and worker processes run as the real console script."""

from __future__ import annotations

import uuid
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest

from pipeline.localkafka.broker import BrokerInfo
from pipeline.localkafka.testing import running_broker
from tests.integration.harness import Stack


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerInfo]:
    with running_broker(tmp_path_factory.mktemp("broker")) as info:
        yield info


_CALL_FAILED = pytest.StashKey[bool]()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None],
                              ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.when == "call":
        item.stash[_CALL_FAILED] = report.failed
    return report


@pytest.fixture
def stack(broker: BrokerInfo, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Stack]:
    """Topics, consumer group and state dirs of this test only (a unique prefix), on the
    session's broker. Workers started through it are stopped at the end; when the test failed,
    their log tails go to the report (a failure under load is otherwise hard to explain)."""
    prefix = f"t{uuid.uuid4().hex[:8]}"
    with Stack(broker.bootstrap, prefix, tmp_path) as s:
        yield s
        if request.node.stash.get(_CALL_FAILED, False):
            s.write_log_tails()
