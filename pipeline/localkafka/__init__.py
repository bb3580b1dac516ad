"""A real local Apache Kafka broker (KRaft, single node) for tests, CI and the demo.

No Docker: Kafka's jars come from Maven Central (:func:`ensure_jars`) and run on the local JVM.
"""

from pipeline.localkafka.broker import BrokerInfo, start, status, stop
from pipeline.localkafka.errors import LocalKafkaError
from pipeline.localkafka.jars import KAFKA_VERSION, ensure_jars

__all__ = [
    "KAFKA_VERSION",
    "BrokerInfo",
    "LocalKafkaError",
    "ensure_jars",
    "start",
    "status",
    "stop",
]
