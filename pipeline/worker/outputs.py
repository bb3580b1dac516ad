"""What the worker writes besides state: alerts and dead letters, each awaited until delivered.

The correlator calls :meth:`Outputs.emit_alerts` before it writes the record that says
"alerted" (a crash in between re-sends the same alert ids); the processor dead-letters a
record before its batch is persisted and acked. Either send failing raises to the caller,
which retries (pipeline/worker/failures.py): nothing is committed past an output not in Kafka.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from pipeline.correlation.alerts import Alert
from pipeline.logs import get_logger
from pipeline.metrics import Metrics
from pipeline.worker import killpoint
from pipeline.worker.deadletter import dead_letter_headers
from pipeline.worker.wire import alert_headers, alert_key, alert_source, alert_to_json

log = get_logger(__name__)


class Outputs:
    """The alert and dead-letter topics of one worker (faust topics, faust's producer)."""

    def __init__(self, alerts: Any, dlq: Any, metrics: Metrics, app_id: str) -> None:
        self._source = alert_source(app_id)
        self._alerts = alerts
        self._dlq = dlq
        self._metrics = metrics

    async def emit_alerts(self, alerts: Sequence[Alert]) -> None:
        """Send alerts keyed by invoice id and wait until the broker has every one."""
        pending = [
            await self._alerts.send(key=alert_key(a), value=alert_to_json(a),
                                    headers=alert_headers(a, self._source))
            for a in alerts
        ]
        await asyncio.gather(*pending)
        killpoint.reached("after_alerts")
        for alert in alerts:
            log.info("alert_emitted", alert_id=alert.alert_id, kind=alert.kind,
                     severity=alert.severity, invoice_id=alert.invoice_id,
                     region_code=alert.region_code, message=alert.message)

    async def dead_letter(self, message: Any, reason: str, error: str,
                          exception_class: str | None = None) -> None:
        """Send ``message`` (an aiokafka consumer record) to the dead-letter topic and await
        delivery. Its original headers and timestamp travel with it, so a replay is the same
        record."""
        headers = dead_letter_headers(message.topic, message.partition, message.offset,
                                      reason, error, original=message.headers,
                                      exception_class=exception_class)
        # faust's send only queues the record: await its delivery too, so the event (and its
        # offset) is done only once the dead letter is in Kafka; a failure raises to the caller,
        # which retries (failures.py). The record's timestamp is in ms, faust's send takes s.
        delivery = await self._dlq.send(key=message.key, value=message.value, headers=headers,
                                        timestamp=message.timestamp / 1000)
        await delivery
        self._metrics.dead_letters.labels(topic=message.topic, reason=reason).inc()
        log.warning("dead_lettered", topic=message.topic, partition=message.partition,
                    offset=message.offset, reason=reason, error=error)
