"""A dead letter is delivered (not just handed to the producer) before the event counts as done."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import pytest
from aiokafka.errors import KafkaTimeoutError

from pipeline.metrics import Metrics
from pipeline.worker.outputs import Outputs


@dataclass
class Message:
    topic: str = "invoice.issued"
    partition: int = 0
    offset: int = 7
    key: bytes = b"k"
    value: bytes = b"not json"
    headers: tuple[tuple[str, bytes], ...] = ()
    timestamp: int = 1_764_400_000_000  # ms, as aiokafka's ConsumerRecord has it


class SlowTopic:
    """faust's Topic.send: returns a future that resolves once the broker has the record."""

    def __init__(self, fail: BaseException | None = None) -> None:
        self.delivery: asyncio.Future[Any] | None = None
        self.fail = fail

    async def send(self, **kwargs: Any) -> asyncio.Future[Any]:
        self.delivery = asyncio.get_running_loop().create_future()
        asyncio.get_running_loop().call_later(0.05, self._settle)
        return self.delivery

    def _settle(self) -> None:
        assert self.delivery is not None
        if self.fail is not None:
            self.delivery.set_exception(self.fail)
        else:
            self.delivery.set_result("metadata")


async def test_dead_letter_returns_only_once_delivered() -> None:
    topic = SlowTopic()
    outputs = Outputs(alerts=None, dlq=topic, metrics=Metrics(), app_id="test")
    await outputs.dead_letter(Message(), "not_json", "empty")
    assert topic.delivery is not None and topic.delivery.done()


async def test_a_dead_letter_that_was_not_delivered_raises() -> None:
    """...so the caller retries it instead of committing past a lost dead letter."""
    outputs = Outputs(alerts=None, dlq=SlowTopic(fail=KafkaTimeoutError()), metrics=Metrics(),
                      app_id="test")
    with pytest.raises(KafkaTimeoutError):
        await outputs.dead_letter(Message(), "not_json", "empty")
