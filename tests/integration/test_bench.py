"""The benchmark runs end to end in its quick mode and reports every figure.

It proves the benchmark works; it asserts no speed (CI machines differ, figures fluctuate).
The benchmark starts and stops its own broker and workers.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

FIGURES = (
    "baseline_events_per_second",  # a
    "pipeline_events_per_second",  # b
    "ratio",  # c
    "lateness_p50_seconds",  # d
    "lateness_p99_seconds",  # d
    "peak_rss_bytes",  # e
    "bytes_per_pending",  # e
    "recovery_seconds",  # f
)


@pytest.mark.timeout(900)
def test_quick_benchmark_reports_all_six_figures(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench", "--quick", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=840)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    results = json.loads((tmp_path / "latest.json").read_text())
    figures = results["figures"]
    assert set(FIGURES) <= set(figures)
    for name in FIGURES:
        value = figures[name]
        assert isinstance(value, int | float) and value > 0, (name, value)
    assert results["data"]["pending"] == 100_000
    assert results["recovery"]["pending"] == 100_000
    assert results["lateness"]["alerts"] > 0
    assert len(list(tmp_path.glob("results-*.json"))) == 1
    assert "c. ratio b / a" in run.stdout
