"""Timestamps on the wire: ISO 8601 strings that must carry a UTC offset."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, PlainSerializer, WithJsonSchema

NAIVE_MESSAGE = (
    "must carry a UTC offset, e.g. 2024-05-01T10:00:00+08:00 "
    "(naive local time is ambiguous: Beijing time is +08:00)"
)


def _refuse_numbers(value: Any) -> Any:
    # pydantic would read a number as epoch seconds; the contract is an ISO 8601 string.
    if isinstance(value, int | float):
        raise ValueError("must be an ISO 8601 string with a UTC offset, not a number")
    return value


def _require_offset(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(NAIVE_MESSAGE)
    return value


OffsetDateTime = Annotated[
    datetime,
    BeforeValidator(_refuse_numbers),
    AfterValidator(_require_offset),
    PlainSerializer(datetime.isoformat, return_type=str, when_used="json"),
    WithJsonSchema(
        {
            "type": "string",
            "format": "date-time",
            "description": "ISO 8601 with a UTC offset, e.g. 2024-05-01T10:00:00+08:00.",
        }
    ),
]
"""An aware ``datetime``; naive values are refused, JSON output keeps the offset (``+08:00``)."""
