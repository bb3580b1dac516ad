"""Start, stop and inspect a real single-node Apache Kafka broker (KRaft) on loopback."""

from __future__ import annotations

import fcntl
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from pipeline.localkafka import jars, ports, probe, process, server_properties
from pipeline.localkafka.data_dir import DataDir
from pipeline.localkafka.errors import LocalKafkaError
from pipeline.localkafka.toolchain import find_java

DEFAULT_PORT = 9092
POLL_S = 0.1
FORMAT_TIMEOUT_S = 120.0
STOP_GRACE_S = 30.0
JVM_OPTIONS = ("-Xms128m", "-Xmx512m", "-XX:+UseG1GC", "-XX:+ExitOnOutOfMemoryError",
               "-Djava.awt.headless=true")  # fmt: skip
LOG4J_CONFIG = Path(__file__).with_name("log4j2.properties")


@dataclass(frozen=True)
class BrokerInfo:
    """A running local broker."""

    bootstrap: str  # "127.0.0.1:PORT", for bootstrap_servers
    port: int
    controller_port: int
    pid: int
    data_dir: Path


def start(
    port: int | None = None,
    data_dir: Path | None = None,
    *,
    timeout: float = 60,
    controller_port: int | None = None,
) -> BrokerInfo:
    """Start a broker on ``127.0.0.1:port`` (default 9092) and return once it serves metadata.

    ``data_dir`` (default ``var/kafka`` in the checkout) keeps its config, storage and logs; the
    storage is formatted on first use. If the broker recorded in ``data_dir`` already runs, its
    info is returned once it answers. The controller listens on ``controller_port`` (default: a
    free port). Raises :class:`LocalKafkaError` if the port is taken, the JVM dies (with the tail
    of its logs) or the broker does not answer within ``timeout`` seconds of being launched (a
    first fetch of the jars and the storage format come before and are not counted).
    """
    files = DataDir.at(data_dir)
    with _locked(files):
        running = _running(files)
        if running is not None:
            if port is not None and port != running.port:
                raise LocalKafkaError(
                    f"the broker of {files.root} already runs on port {running.port} "
                    f"(pid {running.pid}); stop it before starting it on port {port}"
                )
            _await_answer(files, running, time.monotonic() + timeout, spawned=False)
            return running
        files.clear_state()
        return _launch(files, port or DEFAULT_PORT, controller_port, timeout)


def stop(data_dir: Path | None = None) -> bool:
    """Stop the broker recorded in ``data_dir``; True if one was running.

    SIGTERM first (a clean shutdown), SIGKILL after 30 s. The pid and state files are removed;
    the storage stays, so the next :func:`start` reuses its topics.
    """
    files = DataDir.at(data_dir)
    if not files.root.is_dir():
        return False
    with _locked(files):
        pid = files.read_pid()
        was_running = pid is not None and process.is_running(pid, str(files.config))
        if pid is not None and was_running:
            process.terminate(pid, str(files.config), grace=STOP_GRACE_S)
            if process.is_running(pid, str(files.config)):
                raise LocalKafkaError(f"broker pid {pid} did not exit after SIGKILL")
        files.clear_state()
        return was_running


def status(data_dir: Path | None = None) -> BrokerInfo | None:
    """The broker recorded in ``data_dir`` if its process is alive, else None."""
    return _running(DataDir.at(data_dir))


def _running(files: DataDir) -> BrokerInfo | None:
    state = files.read_state()
    if state is None:
        return None
    try:
        info = BrokerInfo(
            bootstrap=str(state["bootstrap"]),
            port=int(state["port"]),
            controller_port=int(state["controller_port"]),
            pid=int(state["pid"]),
            data_dir=files.root,
        )
    except (KeyError, TypeError, ValueError):
        return None
    return info if process.is_running(info.pid, str(files.config)) else None


def _launch(files: DataDir, port: int, controller_port: int | None, timeout: float) -> BrokerInfo:
    if not ports.port_is_free(port):
        raise LocalKafkaError(
            f"port {port} on {ports.HOST} is already in use by another process; "
            "choose another with --port or stop what listens there"
        )
    if controller_port is None:
        controller_port = ports.free_port()
        while controller_port == port:
            controller_port = ports.free_port()
    elif not ports.port_is_free(controller_port):
        raise LocalKafkaError(f"controller port {controller_port} on {ports.HOST} is in use")
    lib = jars.ensure_jars()
    java = find_java()
    files.root.mkdir(parents=True, exist_ok=True)
    files.logs.mkdir(exist_ok=True)
    files.config.write_text(
        server_properties.render(port, controller_port, files.storage), encoding="utf-8"
    )
    base = [java, *JVM_OPTIONS, f"-Dkafka.logs.dir={files.logs}",
            f"-Dlog4j2.configurationFile={LOG4J_CONFIG}", "-cp", jars.classpath(lib)]  # fmt: skip
    if not files.is_formatted():
        _format(files, base)
    pid = process.spawn([*base, "kafka.Kafka", str(files.config)], files.launch_log, files.root)
    info = BrokerInfo(f"{ports.HOST}:{port}", port, controller_port, pid, files.root)
    files.write_state(
        {
            "pid": pid,
            "bootstrap": info.bootstrap,
            "port": port,
            "controller_port": controller_port,
            "kafka_version": jars.KAFKA_VERSION,
            "started_at": time.time(),
        }
    )
    _await_answer(files, info, time.monotonic() + timeout, spawned=True)
    return info


def _format(files: DataDir, base: list[str]) -> None:
    # A short-lived tool: the C1 compiler alone starts it about a second sooner on two cores.
    command = [*base, "-XX:TieredStopAtLevel=1", "kafka.tools.StorageTool", "format",
               "--cluster-id", server_properties.new_cluster_id(),
               "--config", str(files.config)]  # fmt: skip
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=FORMAT_TIMEOUT_S, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise LocalKafkaError(f"formatting {files.storage} took over {FORMAT_TIMEOUT_S}s") from exc
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-30:])
        raise LocalKafkaError(f"formatting {files.storage} failed (exit {done.returncode})", tail)


def _await_answer(files: DataDir, info: BrokerInfo, deadline: float, *, spawned: bool) -> None:
    marker = str(files.config)
    while True:
        if not process.is_running(info.pid, marker):
            code = process.exit_code(info.pid)
            files.clear_state()
            reason = files.last_error()
            raise LocalKafkaError(
                f"the broker (pid {info.pid}) exited"
                + (f" with code {code}" if code is not None else "")
                + f" before it served {info.bootstrap}"
                + (f": {reason}" if reason else "")
                + f" (logs: {files.logs})",
                files.tail(),
            )
        remaining = deadline - time.monotonic()
        if ports.accepts_connections(info.port) and probe.broker_answers(
            info.bootstrap, timeout=max(min(remaining, 5.0), 0.5)
        ):
            return
        if time.monotonic() >= deadline:
            break
        time.sleep(POLL_S)
    detail = files.tail()
    if spawned:  # ours and useless: do not leave it running behind the error
        process.terminate(info.pid, marker, grace=10.0)
        files.clear_state()
    raise LocalKafkaError(
        f"the broker (pid {info.pid}) did not answer on {info.bootstrap} in time; "
        f"see {files.server_log}",
        detail,
    )


@contextmanager
def _locked(files: DataDir) -> Iterator[None]:
    # One start/stop at a time per data dir (two test sessions, a script and a test, ...).
    files.root.mkdir(parents=True, exist_ok=True)
    with open(files.lock_file, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield
