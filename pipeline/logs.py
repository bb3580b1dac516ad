"""Structured logs: structlog JSON lines on stdout, with faust's and aiokafka's stdlib logs
rendered by the same formatter so one log pipeline reads everything."""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog

_SHARED: list[Any] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
]


def json_formatter() -> logging.Formatter:
    """A stdlib formatter that renders any LogRecord (ours or a library's) as one JSON line."""
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_SHARED,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
    )


def json_handler() -> logging.Handler:
    """A stdout handler with :func:`json_formatter`."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(json_formatter())
    return handler


def configure_logging(level: str = "INFO") -> None:
    """Route structlog and the stdlib root logger through one JSON formatter on stdout."""
    structlog.configure(
        processors=[*_SHARED, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    root = logging.getLogger()
    root.handlers[:] = [json_handler()]
    root.setLevel(level)
    # aiokafka logs every retriable hiccup at WARNING/ERROR with a traceback; keep its INFO out.
    logging.getLogger("aiokafka").setLevel(max(logging.WARNING, root.level))


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    """A structlog logger for module ``name``."""
    logger: structlog.stdlib.BoundLogger = structlog.get_logger(name)
    return logger
