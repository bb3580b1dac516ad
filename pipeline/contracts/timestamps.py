"""Timestamps on the wire: ISO 8601 strings that must carry a UTC offset."""

from __future__ import annotations

from datetime import UTC, datetime
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


#: The instants the pipeline accepts, in UTC: [EARLIEST, LATEST). Outside them a time either is
#: not representable in UTC at all (``0001-01-01T00:00:00+00:01`` is in year 0 in UTC; datetime
#: cannot hold it) or makes no sense for an invoice issued and acknowledged today, and deadlines
#: and retention added to it must stay representable too.
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)
RANGE_MESSAGE = "must lie between 2000-01-01T00:00:00Z (inclusive) and 2100-01-01T00:00:00Z"


def _require_offset(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(NAIVE_MESSAGE)
    try:
        in_utc = value.astimezone(UTC)
    except OverflowError:  # e.g. 9999-12-31T23:59:59-00:01 is in year 10000 in UTC
        raise ValueError(f"is not representable in UTC; {RANGE_MESSAGE}") from None
    if not EARLIEST <= in_utc < LATEST:
        raise ValueError(RANGE_MESSAGE)
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
            "description": "ISO 8601 with a UTC offset, e.g. 2024-05-01T10:00:00+08:00; "
                           "from 2000-01-01T00:00:00Z up to (excluding) 2100-01-01T00:00:00Z.",
        }
    ),
]
"""An aware ``datetime`` in [EARLIEST, LATEST); naive values are refused, JSON output keeps the
offset (``+08:00``)."""
