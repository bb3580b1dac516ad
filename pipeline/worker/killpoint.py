"""A TEST-ONLY hook: SIGKILL this worker at a named step of the batch protocol.

The crash tests (tests/integration/test_worker_batch_crash.py) set ``INVOICE_SYNC_TEST_KILL_AT``
to one of :data:`POINTS` and check that a worker killed there loses no alert condition and no
pending invoice. Never set it in a deployment: the worker dies on the first batch that reaches
the point. Unset (the default), :func:`reached` is one attribute test.
"""

from __future__ import annotations

import os
import signal

ENV = "INVOICE_SYNC_TEST_KILL_AT"
#: In protocol order: alerts delivered; records written to RocksDB; changelog records
#: acknowledged by the broker; everything persisted but the input offset not yet acked.
POINTS = ("after_alerts", "after_writebatch", "after_changelog", "before_commit")

_armed = os.environ.get(ENV) or None
if _armed is not None and _armed not in POINTS:
    raise SystemExit(f"{ENV}={_armed!r}: expected one of {', '.join(POINTS)}")


def reached(point: str) -> None:
    """SIGKILL the process now if the test asked to die at ``point``."""
    if _armed == point:
        os.kill(os.getpid(), signal.SIGKILL)
