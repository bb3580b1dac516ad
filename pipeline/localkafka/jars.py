"""The broker's jars: Kafka's runtime closure, copied from Maven Central into a local cache."""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from pipeline.localkafka.errors import LocalKafkaError
from pipeline.localkafka.toolchain import find_java, find_maven

KAFKA_VERSION = "4.1.2"  # keep equal to <kafka.version> in pom.xml
POM = Path(__file__).with_name("pom.xml")
LIB_ENV = "INVOICE_SYNC_KAFKA_LIB"
MARKER = ".complete"
DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1"
FETCH_TIMEOUT_S = 900.0


def default_lib_dir() -> Path:
    """``$INVOICE_SYNC_KAFKA_LIB``, else ``~/.cache/invoice-sync/kafka-<version>/lib``."""
    override = os.environ.get(LIB_ENV)
    if override:
        return Path(override).expanduser()
    cache_home = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache_home / "invoice-sync" / f"kafka-{KAFKA_VERSION}" / "lib"


def ensure_jars(cache_dir: Path | None = None) -> Path:
    """Return a folder holding every jar the broker needs, fetching them first if need be.

    The folder is complete when its marker file names the current POM; a folder without it
    (an interrupted fetch, an older POM) is fetched again. Concurrent callers serialise on a
    lock file beside the folder, and the jars land in place by one rename.
    """
    lib = (cache_dir or default_lib_dir()).expanduser().resolve()
    fingerprint = _pom_fingerprint()
    if _is_complete(lib, fingerprint):
        return lib
    find_java()  # Maven needs it too; say so before Maven does, less clearly
    mvn = find_maven()
    lib.parent.mkdir(parents=True, exist_ok=True)
    with open(lib.parent / f".{lib.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _is_complete(lib, fingerprint):  # another process fetched while we waited
            return lib
        staging = Path(tempfile.mkdtemp(prefix=f".{lib.name}-", dir=lib.parent))
        try:
            _copy_dependencies(mvn, staging)
            (staging / MARKER).write_text(fingerprint + "\n", encoding="utf-8")
            if lib.exists():
                shutil.rmtree(lib)
            staging.rename(lib)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return lib


def classpath(lib: Path) -> str:
    """The JVM ``-cp`` value for every jar in ``lib``."""
    return str(lib / "*")


def _pom_fingerprint() -> str:
    return hashlib.sha256(POM.read_bytes()).hexdigest()


def _is_complete(lib: Path, fingerprint: str) -> bool:
    try:
        return (lib / MARKER).read_text(encoding="utf-8").strip() == fingerprint
    except OSError:
        return False


def _copy_dependencies(mvn: str, out_dir: Path) -> None:
    # Maven runs on a copy of the POM in a scratch folder, so an installed (read-only)
    # package works and no target/ appears next to the source.
    with tempfile.TemporaryDirectory(prefix="invoice-sync-kafka-pom-") as scratch:
        pom = Path(scratch) / "pom.xml"
        shutil.copyfile(POM, pom)
        command = [
            mvn, "-B", "-q", "-f", str(pom),
            f"{DEPENDENCY_PLUGIN}:copy-dependencies",
            "-DincludeScope=runtime",
            f"-DoutputDirectory={out_dir}",
        ]  # fmt: skip
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=FETCH_TIMEOUT_S, check=False
            )
        except subprocess.TimeoutExpired as exc:
            raise LocalKafkaError(
                f"fetching Kafka {KAFKA_VERSION} jars took over {FETCH_TIMEOUT_S:.0f}s"
            ) from exc
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-30:])
        raise LocalKafkaError(
            f"mvn could not fetch Kafka {KAFKA_VERSION} jars (exit {done.returncode})", tail
        )
    if not any(out_dir.glob("kafka_2.13-*.jar")):
        raise LocalKafkaError(f"mvn finished but no kafka_2.13 jar is in {out_dir}")
