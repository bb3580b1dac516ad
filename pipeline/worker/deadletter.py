"""Dead-letter records: the original key and bytes, plus headers saying where they came from
and why they were refused, so an operator can fix and replay them."""

from __future__ import annotations

from datetime import UTC, datetime

MAX_ERROR_CHARS = 1000


def dead_letter_headers(topic: str, partition: int, offset: int, reason: str,
                        error: str) -> list[tuple[str, bytes]]:
    """Kafka headers of a dead letter (all values UTF-8)."""
    return [
        ("source_topic", topic.encode()),
        ("source_partition", str(partition).encode()),
        ("source_offset", str(offset).encode()),
        ("error_reason", reason.encode()),
        ("error", error[:MAX_ERROR_CHARS].encode("utf-8", "replace")),
        ("dead_lettered_at", datetime.now(UTC).isoformat().encode()),
    ]
