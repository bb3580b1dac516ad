"""The Kafka Streams peer: built with Maven (Maven Central only) into the cache, run with java."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from benchmarks.peers.cache import built, fingerprint
from pipeline.localkafka.jars import KAFKA_VERSION
from pipeline.localkafka.toolchain import find_java, find_maven

SOURCE = Path(__file__).with_name("kstreams")
BUILD_TIMEOUT_S = 900.0


def sources() -> list[Path]:
    return [SOURCE / "pom.xml", *sorted((SOURCE / "src").rglob("*.java"))]


def build() -> Path:
    """The folder with the app's jar and its runtime jars (``lib/``), built if need be."""
    pom = (SOURCE / "pom.xml").read_text()
    if f"<kafka.version>{KAFKA_VERSION}</kafka.version>" not in pom:
        raise RuntimeError(f"{SOURCE / 'pom.xml'}: kafka.version must be the broker's, "
                           f"{KAFKA_VERSION} (pipeline/localkafka/jars.py)")

    def run_maven(home: Path) -> None:
        find_java()
        project = home / "project"
        shutil.copytree(SOURCE, project)  # Maven writes target/ beside the POM: not in the repo
        done = subprocess.run([find_maven(), "-B", "-q", "package"], cwd=project,
                              capture_output=True, text=True, timeout=BUILD_TIMEOUT_S)
        if done.returncode != 0:
            raise RuntimeError("mvn package of the Kafka Streams peer failed:\n"
                               + (done.stdout + done.stderr)[-3000:])
        (project / "target" / "lib").rename(home / "lib")
        (project / "target" / "kstreams-join-1.jar").rename(home / "app.jar")
        shutil.rmtree(project)

    return built(f"kstreams-{KAFKA_VERSION}-{fingerprint(sources())}", run_maven)


def command(home: Path, bootstrap: str, group: str, issued: str, acknowledged: str,
            state_dir: Path) -> list[str]:
    """The JVM command line (default heap and GC; Kafka's log lines at WARN and above)."""
    return [find_java(), "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
            "-cp", f"{home / 'app.jar'}:{home / 'lib'}/*", "invoicesync.peer.JoinApp",
            bootstrap, group, issued, acknowledged, str(state_dir)]
