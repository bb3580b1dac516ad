"""The local broker manager against a real Apache Kafka broker (JVM, KRaft, loopback)."""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from pipeline.localkafka import BrokerInfo, LocalKafkaError, start, status, stop
from pipeline.localkafka.cli import run
from pipeline.localkafka.testing import free_port, restart_broker, running_broker, stop_broker


def process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not stat.exists() or stat.read_text().rsplit(")", 1)[-1].split()[0] not in {"Z", "X"}


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerInfo]:
    with running_broker(tmp_path_factory.mktemp("shared-broker")) as info:
        yield info
    assert not process_exists(info.pid)


def test_lifecycle_start_status_idempotent_stop_restart(tmp_path: Path) -> None:
    data_dir = tmp_path / "kafka"
    port = free_port()

    info = start(port, data_dir)

    assert info.bootstrap == f"127.0.0.1:{port}"
    assert (info.port, info.data_dir) == (port, data_dir.resolve())
    assert info.controller_port != port
    assert process_exists(info.pid)
    assert status(data_dir) == info
    assert start(port, data_dir) == info  # idempotent: same pid, nothing new launched
    assert start(None, data_dir) == info

    assert stop(data_dir) is True

    assert not process_exists(info.pid)
    assert status(data_dir) is None
    assert not (data_dir / "broker.pid").exists()
    assert not (data_dir / "broker.json").exists()
    assert stop(data_dir) is False

    # The formatted storage is reused, even on new ports.
    again = start(free_port(), data_dir)
    try:
        assert again.pid != info.pid
        assert status(data_dir) == again
    finally:
        assert stop(data_dir) is True
    assert not process_exists(again.pid)


async def test_produce_consume_round_trip(broker: BrokerInfo) -> None:
    topic = f"roundtrip-{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=broker.bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    finally:
        await admin.close()

    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, enable_idempotence=True)
    await producer.start()
    try:
        sent = await producer.send_and_wait(topic, b'{"invoice_id": "INV-1"}', key=b"INV-1")
    finally:
        await producer.stop()

    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=broker.bootstrap, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        async with asyncio.timeout(30):
            record = await consumer.getone()
    finally:
        await consumer.stop()

    assert (record.topic, record.partition, record.offset) == (topic, 0, sent.offset)
    assert (record.key, record.value) == (b"INV-1", b'{"invoice_id": "INV-1"}')


async def test_start_works_inside_a_running_event_loop(broker: BrokerInfo) -> None:
    # Async fixtures and tests call the synchronous API with a loop already running.
    assert start(None, broker.data_dir) == broker


def test_start_on_a_port_taken_by_something_else_says_so(tmp_path: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]

        with pytest.raises(LocalKafkaError, match=rf"port {port} .* already in use"):
            start(port, tmp_path / "kafka")

    assert status(tmp_path / "kafka") is None


def test_broker_that_dies_during_start_raises_with_its_log(tmp_path: Path) -> None:
    data_dir = tmp_path / "kafka"
    storage = data_dir / "kraft"
    storage.mkdir(parents=True)
    # Storage that claims another node id: the broker refuses it and exits at once.
    (storage / "meta.properties").write_text(
        "version=1\ncluster.id=AAAAAAAAAAAAAAAAAAAAAA\nnode.id=7\n"
        "directory.id=AAAAAAAAAAAAAAAAAAAAAA\n"
    )

    with pytest.raises(LocalKafkaError, match="exited") as raised:
        start(free_port(), data_dir, timeout=60)

    assert "Stored node id 7" in raised.value.summary  # the cause, in the one-line message
    assert "kafka.Kafka" in raised.value.detail  # and the log tail with the stack trace
    assert status(data_dir) is None


def test_cli_start_prints_bootstrap_last_and_status_stop(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data_dir = str(tmp_path / "kafka")
    port = free_port()

    assert run(["start", "--port", str(port), "--data-dir", data_dir]) == 0
    try:
        assert capsys.readouterr().out.splitlines()[-1] == f"127.0.0.1:{port}"
        assert run(["status", "--data-dir", data_dir]) == 0
        assert capsys.readouterr().out.splitlines()[-1] == f"127.0.0.1:{port}"
    finally:
        assert run(["stop", "--data-dir", data_dir]) == 0
    assert "stopped" in capsys.readouterr().err

    assert run(["status", "--data-dir", data_dir]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no broker running" in err


def test_stop_and_restart_broker_keeps_port_and_records(tmp_path: Path) -> None:
    async def produce(bootstrap: str, topic: str) -> int:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
        await producer.start()
        try:
            return (await producer.send_and_wait(topic, b"kept", key=b"k")).offset
        finally:
            await producer.stop()

    async def read_one(bootstrap: str, topic: str) -> bytes | None:
        consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap,
                                    auto_offset_reset="earliest")
        await consumer.start()
        try:
            async with asyncio.timeout(30):
                return (await consumer.getone()).value
        finally:
            await consumer.stop()

    with running_broker(tmp_path) as info:
        topic = f"kept-{uuid.uuid4().hex[:8]}"
        assert asyncio.run(produce(info.bootstrap, topic)) == 0
        stop_broker(info)
        assert status(info.data_dir) is None
        with pytest.raises(RuntimeError, match="not running"):
            stop_broker(info)

        again = restart_broker(info)

        assert (again.port, again.controller_port, again.data_dir) == (
            info.port, info.controller_port, info.data_dir)
        assert again.pid != info.pid
        assert asyncio.run(read_one(again.bootstrap, topic)) == b"kept"
