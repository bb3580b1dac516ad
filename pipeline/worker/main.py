"""``invoice-sync worker``: validate settings, create topics, run the faust worker."""

from __future__ import annotations

import asyncio
import sys

import faust

from pipeline.correlation.sla import SlaRulesError
from pipeline.logs import configure_logging, get_logger
from pipeline.metrics import Metrics
from pipeline.settings import SettingsError, load_api_tokens, load_settings, load_sla
from pipeline.topics import TopicLayoutError, ensure_topics

log = get_logger(__name__)


def run_worker() -> int:
    """Run until stopped; returns the process exit code."""
    try:
        settings = load_settings()
        sla = load_sla(settings)
        tokens = load_api_tokens(settings)
    except (SettingsError, SlaRulesError) as exc:
        print(f"invoice-sync: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    try:
        asyncio.run(ensure_topics(settings))
    except TopicLayoutError as exc:
        log.error("topic_layout_mismatch", error=str(exc))
        print(f"invoice-sync: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        log.error("broker_unreachable", broker=settings.broker, error=repr(exc))
        print(f"invoice-sync: cannot reach the broker at {settings.broker}: {exc!r}",
              file=sys.stderr)
        return 1
    from pipeline.worker.app import InvoiceSyncApp
    from pipeline.worker.web import register_views

    if tokens is None:
        log.warning("api_auth_disabled",
                    message="INVOICE_SYNC_API_AUTH=disabled: the operator API answers anyone "
                            "who reaches the port; for local demos only")
    else:
        log.info("api_tokens_loaded", names=[f"{n}:{r}" for n, r in tokens.names()])
    worker = InvoiceSyncApp(settings, Metrics(), sla, tokens)
    register_views(worker)
    log.info("worker_starting", broker=settings.broker, partitions=settings.partitions,
             warn_after=settings.warn_after, critical_after=settings.critical_after,
             data_dir=str(settings.data_dir), web_port=settings.web_port)
    faust_worker = faust.Worker(
        worker.app, loglevel=settings.log_level, quiet=True, override_logging=False,
        redirect_stdouts=False)
    # SIGTERM/SIGINT are a warm shutdown: the fetcher stops, the event in hand finishes
    # (stream_wait_empty), the producer is flushed, offsets are committed and the stores are
    # closed; then mode's worker raises SystemExit with the exit code.
    try:
        faust_worker.execute_from_commandline()
    except SystemExit as exc:
        log.info("worker_stopped", exit_code=exc.code)
        raise
    return 0
