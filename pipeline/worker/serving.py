"""What the HTTP side (web.py, api.py) needs of a worker, so it depends on this and not on app.py.

The app builds the worker and main.py attaches the views: no import circle between the app and
its web server.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol

import faust

from pipeline.metrics import Metrics
from pipeline.settings import Settings
from pipeline.worker.declared import DeclaredWindows
from pipeline.worker.guard import Routes
from pipeline.worker.store import BatchStore


class ServedWorker(Protocol):
    """The worker as its views see it."""

    app: faust.App  # its web server, router and HTTP client
    settings: Settings
    metrics: Metrics
    table: Any  # the faust table: its name routes key lookups
    issued: Any  # the faust topic whose partitions say who owns an invoice
    actions: Any  # the faust topic operators' close/reopen actions are sent to
    maintenance_topic: Any  # the faust topic maintenance declarations are sent to
    declared: DeclaredWindows  # the maintenance windows in force on this worker
    batch_store: BatchStore
    routes: Routes  # the operator API's routes and the roles they need (worker/guard.py)

    def active_partitions(self) -> set[int]: ...

    def state_rebuilt(self) -> bool: ...

    def pending_oldest_first(self, *, after: tuple[float, str] | None,
                             issued_before: float | None) -> Iterator[tuple[float, str]]: ...
