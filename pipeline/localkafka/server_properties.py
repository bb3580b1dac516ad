"""server.properties for one combined broker + controller (KRaft) on loopback."""

from __future__ import annotations

import base64
import secrets
from pathlib import Path

from pipeline.localkafka.ports import HOST

NODE_ID = 1
DEFAULT_PARTITIONS = 6


def new_cluster_id() -> str:
    """A KRaft cluster id: 16 random bytes as 22 characters of URL-safe base64.

    Never starting with "-": the storage tool's argument parser would read such an id as an option
    (Kafka's own Uuid.randomUuid() redraws for the same reason). One draw in 64 did this.
    """
    while True:
        cluster_id = base64.urlsafe_b64encode(secrets.token_bytes(16)).decode("ascii").rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


def render(port: int, controller_port: int, log_dir: Path) -> str:
    """The broker's configuration; ``log_dir`` holds the partitions and the metadata log."""
    settings: dict[str, str | int] = {
        "process.roles": "broker,controller",
        "node.id": NODE_ID,
        # Static voters, so the storage is formatted without --standalone.
        "controller.quorum.voters": f"{NODE_ID}@{HOST}:{controller_port}",
        "listeners": f"PLAINTEXT://{HOST}:{port},CONTROLLER://{HOST}:{controller_port}",
        "advertised.listeners": f"PLAINTEXT://{HOST}:{port}",
        "inter.broker.listener.name": "PLAINTEXT",
        "controller.listener.names": "CONTROLLER",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "log.dirs": str(log_dir),
        # Kafka's default. The app and tests should still create their topics explicitly:
        # faust raises PartitionsMismatch on a topic auto-created with another count.
        "auto.create.topics.enable": "true",
        "num.partitions": DEFAULT_PARTITIONS,
        "default.replication.factor": 1,
        "min.insync.replicas": 1,
        "offsets.topic.replication.factor": 1,
        "offsets.topic.num.partitions": 1,  # one partition: consumer groups start fast
        "transaction.state.log.replication.factor": 1,
        "transaction.state.log.min.isr": 1,
        "transaction.state.log.num.partitions": 1,
        "share.coordinator.state.topic.replication.factor": 1,
        "share.coordinator.state.topic.min.isr": 1,
        "group.initial.rebalance.delay.ms": 0,
        "num.network.threads": 2,
        "num.io.threads": 2,
        # The 128 MiB default can exhaust the small heap the broker runs with.
        "log.cleaner.dedupe.buffer.size": 16777216,
    }
    lines = ["# Written by pipeline.localkafka; rewritten on every start."]
    lines += [f"{key}={value}" for key, value in settings.items()]
    return "\n".join(lines) + "\n"
