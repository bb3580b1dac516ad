"""Dead-letter records: the original key, bytes, headers and timestamp, plus headers saying where
they came from and why they were refused, so an operator can fix and replay them.

Two sets of provenance headers side by side: ours (``source_topic``, ``source_partition``,
``source_offset``, ``error_reason``, ``error``, ``dead_lettered_at``, unchanged for existing
readers) and Kafka Connect's ``__connect.errors.*`` names, so tools built for Connect's
dead-letter queues read ours too. :func:`replay_headers` strips both again before a replay.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

MAX_ERROR_CHARS = 1000
CONNECT_PREFIX = "__connect.errors."
#: Connect's connector name and task class for records this pipeline refused.
CONNECTOR_NAME = "invoice-sync"
OURS = frozenset({"source_topic", "source_partition", "source_offset", "error_reason", "error",
                  "dead_lettered_at"})
#: Which stage refused the record, in Connect's vocabulary.
_STAGES = {"processing_error": "TASK_PUT"}

Headers = list[tuple[str, bytes]]


def dead_letter_headers(topic: str, partition: int, offset: int, reason: str,
                        error: str, *,
                        original: Iterable[tuple[str, bytes]] | Mapping[str, bytes] | None = None,
                        exception_class: str | None = None) -> Headers:
    """Kafka headers of a dead letter (all values UTF-8): the original record's headers first
    (minus provenance headers of an earlier dead-lettering), then ours, then Connect's."""
    message = error[:MAX_ERROR_CHARS].encode("utf-8", "replace")
    pairs = original.items() if isinstance(original, Mapping) else (original or ())
    kept = [(k, bytes(v or b"")) for k, v in pairs if not _is_provenance(k)]
    return [
        *kept,
        ("source_topic", topic.encode()),
        ("source_partition", str(partition).encode()),
        ("source_offset", str(offset).encode()),
        ("error_reason", reason.encode()),
        ("error", message),
        ("dead_lettered_at", datetime.now(UTC).isoformat().encode()),
        (CONNECT_PREFIX + "topic", topic.encode()),
        (CONNECT_PREFIX + "partition", str(partition).encode()),
        (CONNECT_PREFIX + "offset", str(offset).encode()),
        (CONNECT_PREFIX + "connector.name", CONNECTOR_NAME.encode()),
        (CONNECT_PREFIX + "stage", _STAGES.get(reason, "VALUE_CONVERTER").encode()),
        (CONNECT_PREFIX + "exception.class.name",
         (exception_class or f"invoice_sync.intake.{reason}").encode()),
        (CONNECT_PREFIX + "exception.message", message),
    ]


def _is_provenance(name: str) -> bool:
    return name in OURS or name.startswith(CONNECT_PREFIX)


def replay_headers(headers: Iterable[tuple[str, bytes]]) -> Headers:
    """The original record's headers of a dead letter (provenance removed)."""
    return [(k, bytes(v or b"")) for k, v in headers if not _is_provenance(k)]


def header(headers: Iterable[tuple[str, bytes]], name: str) -> str | None:
    """The last value of header ``name`` as text (None if absent)."""
    found = None
    for key, value in headers:
        if key == name:
            found = bytes(value or b"").decode("utf-8", "replace")
    return found
