"""``python -m benchmarks.peers``: the peers alone on a backlog of their own.

Starts a broker (fresh data dir, free ports), produces ``--events`` events (half issued
invoices, each acknowledged), runs each peer from launch to its group's committed end offsets,
prints events/s and CPU per event, and stops everything it started.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from benchmarks import data
from benchmarks.peers import prepare, run_peers
from benchmarks.peers.run import PeerResult
from pipeline.localkafka.testing import running_broker


async def _create(bootstrap: str, names: list[str], partitions: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(n, partitions, 1) for n in names])
    finally:
        await admin.close()


def render(results: list[PeerResult]) -> str:
    """One line per peer."""
    return "\n".join(f"{r.name:<14} {r.events_per_second:>9,.0f} events/s  "
                     f"{r.cpu_us_per_event:>6.1f} µs CPU/event  ({r.events:,} events in "
                     f"{r.seconds:.1f} s, peak RSS {r.peak_rss_bytes / 2**20:,.0f} MiB)"
                     for r in results)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.peers",
                                description=__doc__.split("\n")[0])
    p.add_argument("--events", type=int, default=200_000,
                   help="events in the backlog: half issued invoices, each acknowledged")
    p.add_argument("--partitions", type=int, default=6)
    p.add_argument("--out", type=Path, default=Path("var/bench"))
    args = p.parse_args(argv)
    logging.getLogger("aiokafka").setLevel(logging.ERROR)
    homes = prepare()
    args.out.mkdir(parents=True, exist_ok=True)
    log = args.out / "peers.log"
    log.write_bytes(b"")
    load = [os.getloadavg()]
    with tempfile.TemporaryDirectory(prefix="invoice-sync-peers-") as tmp_name:
        tmp = Path(tmp_name)
        with running_broker(tmp) as broker:
            topics = data.Topics("peers.invoice.issued", "peers.invoice.acknowledged")
            asyncio.run(_create(broker.bootstrap, [topics.issued, topics.acknowledged],
                                args.partitions))
            invoices = args.events // 2
            total = asyncio.run(data.produce(broker.bootstrap, topics,
                                             data.backlog(0, invoices, time.time())))
            print(f"produced {total:,} events", flush=True)
            load.append(os.getloadavg())
            results = run_peers(broker.bootstrap, topics.issued, topics.acknowledged,
                                tmp / "peers", log, homes)
            load.append(os.getloadavg())
    print(render(results))
    print(f"load average (1 min) at start / before peers / end: "
          f"{' / '.join(f'{x[0]:.2f}' for x in load)} on {os.cpu_count()} CPUs")
    (args.out / "peers-latest.json").write_text(json.dumps(
        {"events": total, "peers": [r.as_dict() for r in results], "load_avg": load},
        indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
