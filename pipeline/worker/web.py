"""HTTP endpoints on faust's web server: liveness, readiness and Prometheus metrics.

These three are public (probes and Prometheus carry no token; worker/guard.py). Liveness never
looks at Kafka: a broker blip must not make an orchestrator restart every pod.
Readiness means this worker owns partitions, its table recovery has finished and its deadline and
pending indexes were rebuilt from the table (on the first tick after an assignment).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

if TYPE_CHECKING:
    from pipeline.worker.serving import ServedWorker


def readiness(worker: ServedWorker) -> tuple[bool, str]:
    """(ready, why) for /readyz."""
    app: Any = worker.app
    if app.rebalancing:
        return False, "rebalancing"
    if not app.tables.recovery.completed.is_set():
        return False, "table recovery in progress"
    if not worker.active_partitions():
        return False, "no partitions assigned"
    if not worker.state_rebuilt():
        return False, "deadline and pending indexes being rebuilt"
    return True, "ok"


def register_views(worker: ServedWorker) -> None:
    """Attach /healthz, /readyz and /metrics to the worker's faust app."""
    app, routes = worker.app, worker.routes

    @app.page(routes.add("/healthz", None))
    async def healthz(web: Any, request: Any) -> Any:
        return web.json({"status": "ok"})

    @app.page(routes.add("/readyz", None))
    async def readyz(web: Any, request: Any) -> Any:
        ready, why = readiness(worker)
        return web.json({"ready": ready, "reason": why}, status=200 if ready else 503)

    @app.page(routes.add("/metrics", None))
    async def metrics(web: Any, request: Any) -> Any:
        return web.bytes(generate_latest(worker.metrics.registry),
                         content_type=CONTENT_TYPE_LATEST.split(";")[0])

    from pipeline.worker.actions_api import register_actions
    from pipeline.worker.api import register_api
    from pipeline.worker.maintenance_api import register_maintenance

    register_actions(worker, register_api(worker))
    register_maintenance(worker)
