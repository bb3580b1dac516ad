"""The peers of the benchmark stay comparable: same Kafka version as the broker, pinned Quix
Streams, and a build cache that never hands out a half-built folder."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from benchmarks.peers import cache, kstreams, quix
from pipeline.localkafka.jars import KAFKA_VERSION


def test_kafka_streams_peer_uses_the_brokers_kafka_version() -> None:
    pom = (kstreams.SOURCE / "pom.xml").read_text()
    assert re.findall(r"<kafka.version>([^<]+)</kafka.version>", pom) == [KAFKA_VERSION]


def test_quix_streams_is_pinned_exactly() -> None:
    assert re.fullmatch(r"quixstreams==\d+\.\d+\.\d+", quix.QUIXSTREAMS)


def test_an_interrupted_build_is_built_again(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(cache.CACHE_ENV, str(tmp_path))
    calls: list[Path] = []

    def failing(folder: Path) -> None:
        (folder / "half").write_text("x")
        raise RuntimeError("network down")

    with pytest.raises(RuntimeError):
        cache.built("app", failing)
    assert not (tmp_path / "app").exists()

    def working(folder: Path) -> None:
        calls.append(folder)
        (folder / "app.jar").write_text("jar")

    home = cache.built("app", working)
    assert (home / "app.jar").read_text() == "jar" and not (home / "half").exists()
    assert cache.built("app", working) == home
    assert calls == [home]  # the second call found it complete


def test_the_kafka_streams_build_key_changes_with_its_source() -> None:
    sources = kstreams.sources()
    assert {p.name for p in sources} >= {"pom.xml", "JoinApp.java"}
    assert cache.fingerprint(sources) != cache.fingerprint(sources, "other")
