"""Finding the Java runtime and Maven that the local broker needs."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from functools import cache

from pipeline.localkafka.errors import LocalKafkaError

MIN_JAVA = 17
JAVA_HINT = (
    f"Java {MIN_JAVA}+ not found: install openjdk-{MIN_JAVA}-jre-headless (or set JAVA_HOME)"
)
MAVEN_HINT = "Apache Maven not found: install maven (apt-get install maven)"


@cache
def find_java() -> str:
    """Path of a ``java`` of version 17 or newer: ``$JAVA_HOME/bin/java`` first, then PATH."""
    java_home = os.environ.get("JAVA_HOME")
    candidate = os.path.join(java_home, "bin", "java") if java_home else None
    if candidate is None or not os.access(candidate, os.X_OK):
        candidate = shutil.which("java")
    if candidate is None:
        raise LocalKafkaError(JAVA_HINT)
    version = java_major_version(candidate)
    if version < MIN_JAVA:
        raise LocalKafkaError(f"{candidate} is Java {version}; {JAVA_HINT}")
    return candidate


def java_major_version(java: str) -> int:
    """Major version that ``java -version`` reports (``1.8.0_x`` counts as 8)."""
    try:
        done = subprocess.run(
            [java, "-version"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise LocalKafkaError(f"{java} -version failed ({exc}); {JAVA_HINT}") from exc
    return parse_java_version(done.stderr + done.stdout)


def parse_java_version(text: str) -> int:
    """Major version out of ``java -version`` output; 0 when it names none."""
    found = re.search(r'version "(\d+)(?:\.(\d+))?', text)
    if found is None:
        return 0
    major = int(found.group(1))
    if major == 1 and found.group(2) is not None:
        return int(found.group(2))
    return major


@cache
def find_maven() -> str:
    """Path of ``mvn`` on PATH."""
    mvn = shutil.which("mvn")
    if mvn is None:
        raise LocalKafkaError(MAVEN_HINT)
    return mvn
