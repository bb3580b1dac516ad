"""``POST /maintenance`` declares a maintenance window; ``GET /maintenance`` lists those in force.

The body is one window as in the windows file (``id``, ``start``, ``end`` with offsets, optional
``region_code``, ``source_system``, ``reason``: pipeline/maintenance_file.py). Any worker takes
it: the declaration (actor = the caller's token name) goes to ``INVOICE_SYNC_TOPIC_MAINTENANCE``,
keyed by window id, and the answer waits for the broker's ack. Every worker reads that topic
whole (declared.py), so the window reaches every worker, survives restarts, and is its own audit
trail. 200 once this worker applies it, 202 if it has not read it back within ``APPLY_WAIT``.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from faust.web import View
from pydantic import ValidationError

from pipeline.contracts.maintenance import MaintenanceDeclaration
from pipeline.correlation.maintenance import MaintenanceWindow
from pipeline.logs import get_logger
from pipeline.maintenance_file import WindowSpec
from pipeline.worker.api import error
from pipeline.worker.guard import principal_of

if TYPE_CHECKING:
    from pipeline.worker.serving import ServedWorker

log = get_logger(__name__)

#: How long the API waits for its worker to read the declaration back before answering 202.
APPLY_WAIT = 5.0
_POLL = 0.05


def parse_window(body: bytes) -> WindowSpec:
    """The declared window; ValueError naming the field for anything else."""
    try:
        spec = WindowSpec.model_validate_json(body)
    except ValidationError as exc:
        parts = []
        for err in exc.errors(include_url=False, include_input=False):
            loc = ".".join(str(p) for p in err["loc"])
            message = err["msg"].removeprefix("Value error, ")
            parts.append(f"{loc}: {message}" if loc else message)
        raise ValueError("; ".join(parts)) from None
    if spec.end <= datetime.now(UTC):
        raise ValueError("end: the window is already over")
    return spec


def window_view(window: MaintenanceWindow, grace: float) -> dict[str, Any]:
    """A window as the API shows it."""
    return {"id": window.window_id, "scope": window.scope,
            "start": datetime.fromtimestamp(window.start, UTC).isoformat(),
            "end": datetime.fromtimestamp(window.end, UTC).isoformat(),
            "region_code": window.region_code, "source_system": window.source_system,
            "reason": window.reason, "grace_seconds": grace}


def register_maintenance(worker: ServedWorker) -> None:
    """Attach the view: ``read`` to list, ``operator`` to declare (worker/guard.py)."""
    app, routes = worker.app, worker.routes

    def in_force() -> list[dict[str, Any]]:
        calendar = worker.declared.calendar()
        if calendar is None:
            return []
        return [window_view(w, calendar.grace)
                for w in sorted(calendar.windows, key=lambda w: (w.start, w.window_id))]

    @app.page(routes.add("/maintenance", "read"))
    class Maintenance(View):
        async def get(self, request: Any) -> Any:
            return self.json({"windows": in_force(),
                              "served_by": str(app.conf.canonical_url)})

        async def post(self, request: Any) -> Any:
            # The guard's role is per path (read, for GET): declaring needs an operator.
            principal = principal_of(request)
            if not principal.may("operator"):
                return error(self, 403, "forbidden", f"token {principal.name!r} has role "
                             f"{principal.role!r}; this needs 'operator'")
            try:
                spec = parse_window(await request.read())
            except ValueError as exc:
                return error(self, 400, "bad_request", str(exc))
            declaration = MaintenanceDeclaration(
                window_id=spec.window_id, start=spec.start, end=spec.end,
                region_code=spec.region_code, source_system=spec.source_system,
                reason=spec.reason, actor=principal.name,
                declared_at=datetime.now(UTC))
            try:
                sent = await worker.maintenance_topic.send(key=spec.window_id.encode(),
                                                           value=declaration.to_wire())
                await sent
            except Exception as exc:  # the broker refused it: nothing declared, say so
                log.warning("maintenance_not_sent", window_id=spec.window_id, error=repr(exc))
                return error(self, 503, "unavailable",
                             f"the window could not be recorded: {exc!r}")
            for _ in range(int(APPLY_WAIT / _POLL)):
                if worker.declared.declared.get(spec.window_id) == declaration:
                    found = [w for w in in_force() if w["id"] == spec.window_id]
                    return self.json({"status": "declared", "window": found[0],
                                      "served_by": str(app.conf.canonical_url)})
                await asyncio.sleep(_POLL)
            return self.json({"status": "accepted",
                              "declaration": declaration.model_dump(mode="json")}, status=202)
