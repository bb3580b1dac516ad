"""The faust app that benchmarks/gates.py measures, run as its own process.

``python -m benchmarks.gate_app GATE BOOTSTRAP APP_ID DATA_DIR ISSUED ACKNOWLEDGED``

Gate 1: the batch transport and an agent that does nothing with a batch (faust still owns the
group, the assignment and the commits). Gate 2: the same, plus what the worker's state costs
per event: a synthetic record per event written through :class:`~pipeline.worker.store.BatchStore`
(one RocksDB ``WriteBatch`` per batch into the table faust recovers, the changelog produced as
a batch and awaited, the changelog offset recorded).
"""

from __future__ import annotations

import sys
from typing import Any

import faust
from aiokafka import AIOKafkaProducer

from pipeline.worker.store import BatchStore
from pipeline.worker.transport import batch_topics, broker_url, mark_processed, records_of


def build(gate: int, bootstrap: str, app_id: str, data_dir: str, issued: str,
          acknowledged: str) -> faust.App:
    app = faust.App(
        app_id, broker=broker_url(bootstrap), store="rocksdb://", datadir=data_dir,
        topic_partitions=6, web_enabled=False, consumer_auto_offset_reset="earliest",
        broker_commit_interval=1.0, stream_buffer_maxsize=16, table_standby_replicas=0,
        rocksdb_options={"use_rocksdict": True, "block_cache_size": 32 * 2**20,
                         "write_buffer_size": 16 * 2**20, "max_write_buffer_number": 2,
                         "block_cache_compressed_size": 0},
    )
    batch_topics(app, [issued, acknowledged])
    raw: dict[str, Any] = {"key_type": bytes, "value_type": bytes,
                           "key_serializer": "raw", "value_serializer": "raw"}
    source = app.topic(issued, acknowledged, **raw)
    table = app.Table("invoices", key_type=str, value_type=bytes, partitions=6)

    if gate == 1:
        @app.agent(source, name="gate")
        async def nothing(stream: Any) -> None:
            async for event in stream.events():
                mark_processed(event.message)
        return app

    holder: dict[str, BatchStore] = {}

    async def store() -> BatchStore:
        if "store" not in holder:
            producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all",
                                        max_batch_size=1024 * 1024,
                                        max_request_size=2 * 1024 * 1024)
            await producer.start()
            holder["store"] = BatchStore(table, lambda: producer)
        return holder["store"]

    @app.agent(source, name="gate")
    async def write(stream: Any) -> None:
        async for event in stream.events():
            records = records_of(event.message)
            batch_store = await store()
            batch = batch_store.begin(event.message.partition)
            for record in records:
                key = record.key.decode()
                old = batch.get(key)
                # ~the size of an encoded invoice record (pipeline.correlation.state)
                batch.put(key, record.key * 3 if old is None else old)
            await batch_store.persist(batch)
            mark_processed(event.message)
    return app


def main() -> None:
    gate, bootstrap, app_id, data_dir, issued, acknowledged = sys.argv[1:7]
    app = build(int(gate), bootstrap, app_id, data_dir, issued, acknowledged)
    sys.argv = [sys.argv[0], "worker", "-l", "warn"]
    app.main()


if __name__ == "__main__":
    main()
