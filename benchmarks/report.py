"""The machine a run measured, and the results as a table."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def machine() -> dict[str, Any]:
    """nproc, CPU model and RAM of this machine (from /proc)."""
    model = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    mem_kib = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem_kib = int(line.split()[1])
    return {"nproc": os.cpu_count(), "cpu_model": model, "mem_total_bytes": mem_kib * 1024}


def _mib(n: float) -> str:
    return f"{n / 2**20:,.0f} MiB"


def render_table(results: dict[str, Any]) -> str:
    """The six figures (and what they were measured on) as a plain-text table."""
    f, d, m = results["figures"], results["data"], results["machine"]
    late, mem = results["lateness"], results["memory"]
    rows = [
        ("a. baseline (aiokafka getmany + orjson)",
         f"{f['baseline_events_per_second']:,} events/s"),
        ("b. pipeline, one worker, launch -> last event",
         f"{f['pipeline_events_per_second']:,} events/s, "
         f"{f['pipeline_cpu_us_per_event']:,.1f} µs CPU/event"),
        ("c. ratio b / a", f"{f['ratio']:.3f}"),
        (f"d. alert lateness p50 / p99 at {late['rate_events_per_second']:,} events/s",
         f"{f['lateness_p50_seconds']:.3f} s / {f['lateness_p99_seconds']:.3f} s"),
        ("e. peak RSS", _mib(f["peak_rss_bytes"])),
        (f"e. bytes per pending invoice ({d['pending']:,} pending)",
         f"{f['bytes_per_pending']:,.0f} B"),
        (f"f. restart: recover {d['pending']:,} pending, ready",
         f"{f['recovery_seconds']:.1f} s"),
    ]
    for peer in results.get("peers", []):
        rows.append((f"g. peer {peer['name']}, launch -> committed end",
                     f"{peer['events_per_second']:,} events/s, "
                     f"{peer['cpu_us_per_event']:,.1f} µs CPU/event"))
    if "ratio_to_fastest_peer" in f:
        rows.append(("g. ratio b / fastest peer", f"{f['ratio_to_fastest_peer']:.3f}"))
    width = max(len(name) for name, _ in rows)
    lines = [f"{name:<{width}}  {value}" for name, value in rows]
    lines.append("")
    lines.append(f"backlog {d['events']:,} events ({d['pending']:,} pending + {d['acked']:,} "
                 f"acked invoices) on {d['partitions']} partitions; idle worker RSS "
                 f"{_mib(mem['rss_idle_bytes'])}; machine: {m['nproc']} x {m['cpu_model']}, "
                 f"{_mib(m['mem_total_bytes'])} RAM; load avg {results['load_avg']}")
    return "\n".join(lines)
