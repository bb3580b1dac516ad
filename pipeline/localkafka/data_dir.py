"""The files a local broker keeps in its data directory."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pipeline


def default_data_dir() -> Path:
    """``var/kafka`` in the source checkout this package runs from, else in the cwd."""
    checkout = Path(pipeline.__file__).resolve().parent.parent
    root = checkout if (checkout / "pyproject.toml").is_file() else Path.cwd()
    return root / "var" / "kafka"


@dataclass(frozen=True)
class DataDir:
    """Where one broker keeps its config, storage, logs and run state."""

    root: Path

    @classmethod
    def at(cls, path: Path | None) -> DataDir:
        """The data directory at ``path`` (default: :func:`default_data_dir`), made absolute."""
        return cls((path or default_data_dir()).expanduser().resolve())

    @property
    def config(self) -> Path:
        """server.properties; its path also tags the JVM's command line as this broker's."""
        return self.root / "server.properties"

    @property
    def storage(self) -> Path:
        """log.dirs: partitions and the KRaft metadata log."""
        return self.root / "kraft"

    @property
    def logs(self) -> Path:
        """kafka.logs.dir: server.log (log4j) and launch.log (the JVM's stdout/stderr)."""
        return self.root / "logs"

    @property
    def server_log(self) -> Path:
        return self.logs / "server.log"

    @property
    def launch_log(self) -> Path:
        return self.logs / "launch.log"

    @property
    def pid_file(self) -> Path:
        return self.root / "broker.pid"

    @property
    def state_file(self) -> Path:
        return self.root / "broker.json"

    @property
    def lock_file(self) -> Path:
        return self.root / ".lock"

    def is_formatted(self) -> bool:
        """Whether StorageTool has formatted the storage already."""
        return (self.storage / "meta.properties").is_file()

    def write_state(self, state: dict[str, Any]) -> None:
        """Record a started broker: pid file plus a JSON state file, each replaced atomically."""
        _write_atomic(self.pid_file, f"{state['pid']}\n")
        _write_atomic(self.state_file, json.dumps(state, indent=2, sort_keys=True) + "\n")

    def read_state(self) -> dict[str, Any] | None:
        """The recorded state, or None when there is none or it is unreadable."""
        try:
            state = json.loads(self.state_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return state if isinstance(state, dict) else None

    def read_pid(self) -> int | None:
        """The recorded pid (state file first, else the pid file)."""
        state = self.read_state()
        if state is not None and isinstance(state.get("pid"), int):
            return int(state["pid"])
        try:
            return int(self.pid_file.read_text(encoding="utf-8").strip())
        except (OSError, ValueError):
            return None

    def clear_state(self) -> None:
        """Forget the recorded broker."""
        self.pid_file.unlink(missing_ok=True)
        self.state_file.unlink(missing_ok=True)

    def last_error(self) -> str:
        """The broker's last fatal complaint in one line ("" if it logged none)."""
        for log in (self.server_log, self.launch_log):
            try:
                lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
            except OSError:
                continue
            for index in range(len(lines) - 1, -1, -1):
                if " ERROR " in lines[index] or " FATAL " in lines[index]:
                    # The exception's own message, on the line after the log line, says most.
                    after = lines[index + 1].strip() if index + 1 < len(lines) else ""
                    line = after if "Exception" in after or "Error" in after else lines[index]
                    return line[:400]
        return ""

    def tail(self, lines: int = 40) -> str:
        """Last lines of the launch log and the server log, for error messages."""
        parts = []
        for log in (self.launch_log, self.server_log):
            try:
                text = log.read_text(encoding="utf-8", errors="replace")
            except OSError:
                continue
            if text.strip():
                parts.append(f"--- {log} (last {lines} lines)")
                parts.extend(text.rstrip().splitlines()[-lines:])
        return "\n".join(parts)


def _write_atomic(path: Path, text: str) -> None:
    staging = path.with_name(f".{path.name}.{os.getpid()}")
    staging.write_text(text, encoding="utf-8")
    staging.replace(path)
