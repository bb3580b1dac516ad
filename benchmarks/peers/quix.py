"""The Quix Streams peer: quixstreams from PyPI in a venv of its own (its pins clash with ours:
pydantic < 2.14, pydantic-settings < 2.16), run with that venv's python."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from benchmarks.peers.cache import built

QUIXSTREAMS = "quixstreams==3.28.1"
APP = Path(__file__).with_name("quix_app.py")
INSTALL_TIMEOUT_S = 900.0


def install() -> Path:
    """The venv with quixstreams installed, made if need be."""
    python = f"py{sys.version_info.major}.{sys.version_info.minor}"

    def make_venv(venv: Path) -> None:
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True,
                       timeout=INSTALL_TIMEOUT_S)
        done = subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet",
                               "--disable-pip-version-check", QUIXSTREAMS],
                              capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S)
        if done.returncode != 0:
            raise RuntimeError(f"pip install {QUIXSTREAMS} failed:\n"
                               + (done.stdout + done.stderr)[-3000:])

    return built(f"quix-{QUIXSTREAMS.split('==')[1]}-{python}", make_venv)


def command(venv: Path, bootstrap: str, group: str, issued: str, acknowledged: str,
            state_dir: Path) -> list[str]:
    """The app's command line."""
    return [str(venv / "bin" / "python"), str(APP), bootstrap, group, issued, acknowledged,
            str(state_dir)]
