"""The Quix Streams peer of the benchmark: invoice-sync's join as a minimal Quix Streams app.

Runs in its own venv (benchmarks/peers/quix.py installs it): quixstreams pins pydantic and
pydantic-settings below the versions this project uses. Both topics are merged (``concat``) and
one stateful step per message key (the invoice id) keeps one value per invoice: an issued
invoice becomes pending ("P" + issued_at) unless its ack came first; an ack makes a pending
invoice synced ("S") or is held ("A") until its invoice.

Usage: python quix_app.py BOOTSTRAP CONSUMER_GROUP ISSUED_TOPIC ACKNOWLEDGED_TOPIC STATE_DIR
"""

from __future__ import annotations

import sys
from typing import Any

from quixstreams import Application, State


def join(event: dict[str, Any], state: State) -> None:
    old = state.get("invoice")
    if event["event_type"] == "invoice.issued":
        state.set("invoice", "S" if old == "A" else "P" + event["issued_at"])
    else:
        state.set("invoice", "S" if old is not None and old[0] == "P" else "A")


def main(bootstrap: str, group: str, issued: str, acknowledged: str, state_dir: str) -> None:
    app = Application(
        broker_address=bootstrap, consumer_group=group, state_dir=state_dir,
        commit_interval=1.0,  # issue 11: the same commit interval for every peer
        auto_offset_reset="earliest",  # a fresh group reads the backlog (the default: latest)
    )
    sdf = app.dataframe(app.topic(issued, value_deserializer="json"))
    sdf = sdf.concat(app.dataframe(app.topic(acknowledged, value_deserializer="json")))
    sdf.update(join, stateful=True)
    app.run()


if __name__ == "__main__":
    main(*sys.argv[1:6])
