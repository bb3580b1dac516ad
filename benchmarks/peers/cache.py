"""Where the peers are built and installed: a cache dir keyed by what went into the build."""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path

CACHE_ENV = "INVOICE_SYNC_PEERS_CACHE"
MARKER = ".complete"


def cache_root() -> Path:
    """``$INVOICE_SYNC_PEERS_CACHE``, else ``~/.cache/invoice-sync/peers``."""
    override = os.environ.get(CACHE_ENV)
    if override:
        return Path(override).expanduser()
    cache_home = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache_home / "invoice-sync" / "peers"


def fingerprint(files: Iterable[Path], *extra: str) -> str:
    """A short hash of the files' contents and ``extra``."""
    digest = hashlib.sha256()
    for path in sorted(files):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    for text in extra:
        digest.update(text.encode() + b"\0")
    return digest.hexdigest()[:16]


def built(name: str, build: Callable[[Path], None]) -> Path:
    """The folder ``name`` under the cache root, made by ``build(folder)`` unless complete.

    Built in place (a venv records its own path), complete once its marker is written: a folder
    without the marker (an interrupted build) is removed and built again. Concurrent callers
    serialise on a lock file.
    """
    root = cache_root()
    target = root / name
    if (target / MARKER).exists():
        return target
    root.mkdir(parents=True, exist_ok=True)
    with open(root / f".{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (target / MARKER).exists():
            return target
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir()
        try:
            build(target)
        except BaseException:
            shutil.rmtree(target, ignore_errors=True)
            raise
        (target / MARKER).write_text("ok\n")
    return target
