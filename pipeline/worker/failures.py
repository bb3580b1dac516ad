"""Which failures are the infrastructure's (retry the same work) and which are the event's own.

The rule (developers' guide): a valid event whose handling failed for an infrastructure reason (an
alert send refused, a produce timeout, the broker unreachable) is retried, never dead-lettered; a
defective one is isolated (dead-lettered, or its deadline dropped) and never blocks what follows.
"""

from __future__ import annotations

from aiokafka.errors import KafkaError
from faust.exceptions import ProducerSendError

#: aiokafka's errors (including a send the broker refused, e.g. MessageSizeTooLargeError, and
#: KafkaTimeoutError), faust's wrapper of a failed send, timeouts (asyncio.TimeoutError is
#: TimeoutError) and socket errors (OSError covers ConnectionError).
INFRASTRUCTURE_ERRORS: tuple[type[BaseException], ...] = (
    KafkaError, ProducerSendError, TimeoutError, OSError)

#: Backoff between retries of work that failed on the infrastructure (seconds).
RETRY_FIRST = 0.5
RETRY_MAX = 10.0


def is_infrastructure(exc: BaseException) -> bool:
    """The failure says nothing about the event: the same work may succeed later."""
    return isinstance(exc, INFRASTRUCTURE_ERRORS)


def next_backoff(previous: float | None) -> float:
    """The delay before the next retry after ``previous`` (None: the first retry)."""
    return RETRY_FIRST if previous is None else min(RETRY_MAX, previous * 2)
