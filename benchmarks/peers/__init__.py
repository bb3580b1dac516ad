"""Peers in the benchmark: the same backlog through a minimal Kafka Streams app and a minimal
Quix Streams app doing invoice-sync's join (benchmarks/peers/README.md)."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

from benchmarks.peers import kstreams, quix
from benchmarks.peers.run import PeerResult, end_offsets, measure

PEERS = ("kafka-streams", "quix-streams")


def prepare() -> dict[str, Path]:
    """Build the Kafka Streams app and install Quix Streams (cached after the first time)."""
    return {"kafka-streams": kstreams.build(), "quix-streams": quix.install()}


def run_peers(bootstrap: str, issued: str, acknowledged: str, work: Path, log: Path,
              homes: dict[str, Path] | None = None) -> list[PeerResult]:
    """Each peer through the whole of both topics, on a fresh group and a fresh state dir
    under ``work``; their output goes to ``log``."""
    homes = homes or prepare()
    ends = asyncio.run(end_offsets(bootstrap, [issued, acknowledged]))
    results = []
    for name, module in (("kafka-streams", kstreams), ("quix-streams", quix)):
        group = f"peer-{name}-{uuid.uuid4().hex[:8]}"
        state = work / group
        state.mkdir(parents=True)
        command = module.command(homes[name], bootstrap, group, issued, acknowledged, state)
        results.append(measure(name, command, bootstrap, group, ends, log))
    return results
