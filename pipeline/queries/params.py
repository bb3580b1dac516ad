"""Query parameters of /pending and /summary, validated into small frozen values.

Every problem raises :class:`QueryError` with a message naming the parameter and what it
accepts; the web adapter answers it as a JSON 400.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

import orjson

from pipeline.contracts.identifiers import INVOICE_ID_MAX
from pipeline.correlation.durations import ACCEPTED_FORMAT, parse_duration

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
_REGION = re.compile(r"^[0-9]{6}$")
_TAX_ID = re.compile(r"^[0-9A-Z]{15,20}$")


class QueryError(ValueError):
    """A bad request parameter (HTTP 400)."""


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where a page ended: the last (issued_at, invoice_id) returned. Opaque to clients."""

    issued_at: float
    invoice_id: str

    def encode(self) -> str:
        raw = orjson.dumps([self.issued_at, self.invoice_id])
        return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")

    @classmethod
    def decode(cls, text: str) -> Cursor:
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            issued_at, invoice_id = orjson.loads(raw)
        except (binascii.Error, orjson.JSONDecodeError, ValueError, TypeError):
            raise QueryError("cursor: not a cursor returned by /pending (next_cursor)") from None
        if not isinstance(invoice_id, str) or not isinstance(issued_at, int | float) \
                or isinstance(issued_at, bool) or not math.isfinite(issued_at):
            raise QueryError("cursor: not a cursor returned by /pending (next_cursor)")
        return cls(float(issued_at), invoice_id)

    def key(self) -> tuple[float, str]:
        return (self.issued_at, self.invoice_id)


@dataclass(frozen=True, slots=True)
class PendingQuery:
    """GET /pending: unacknowledged invoices, oldest first."""

    region_code: str | None = None
    source_system: str | None = None
    older_than: float | None = None
    limit: int = DEFAULT_LIMIT
    cursor: Cursor | None = None
    seller_tax_id: str | None = None

    def to_params(self) -> dict[str, str]:
        """The same query as URL parameters (to forward it to other workers)."""
        params: dict[str, str] = {"limit": str(self.limit)}
        if self.region_code is not None:
            params["region_code"] = self.region_code
        if self.source_system is not None:
            params["source_system"] = self.source_system
        if self.older_than is not None:
            params["older_than"] = repr(self.older_than)
        if self.cursor is not None:
            params["cursor"] = self.cursor.encode()
        if self.seller_tax_id is not None:
            params["seller_tax_id"] = self.seller_tax_id
        return params


@dataclass(frozen=True, slots=True)
class SummaryQuery:
    """GET /summary: reconciliation counts of invoices issued in [since, until)."""

    region_code: str | None = None
    source_system: str | None = None
    since: float | None = None
    until: float | None = None

    def to_params(self) -> dict[str, str]:
        params: dict[str, str] = {}
        if self.region_code is not None:
            params["region_code"] = self.region_code
        if self.source_system is not None:
            params["source_system"] = self.source_system
        if self.since is not None:
            params["since"] = repr(self.since)
        if self.until is not None:
            params["until"] = repr(self.until)
        return params


def check_invoice_id(invoice_id: str) -> str:
    """An invoice id as the path gives it; QueryError if it cannot be one."""
    if not invoice_id or len(invoice_id) > INVOICE_ID_MAX or not invoice_id.isprintable():
        raise QueryError(f"invoice_id: expected 1-{INVOICE_ID_MAX} printable characters")
    return invoice_id


def _unknown(query: Mapping[str, str], known: set[str]) -> None:
    extra = sorted(set(query) - known)
    if extra:
        raise QueryError(f"unknown parameter {extra[0]!r}; accepted: {', '.join(sorted(known))}")


def _region(query: Mapping[str, str]) -> str | None:
    value = query.get("region_code")
    if value is None:
        return None
    if not _REGION.match(value):
        raise QueryError(f"region_code={value!r}: expected six digits, e.g. 110000")
    return value


def _seller(query: Mapping[str, str]) -> str | None:
    value = query.get("seller_tax_id")
    if value is not None and not _TAX_ID.match(value):
        raise QueryError(f"seller_tax_id={value[:40]!r}: expected 15-20 characters of 0-9 A-Z "
                         "(e.g. a unified social credit code)")
    return value


def _source(query: Mapping[str, str]) -> str | None:
    value = query.get("source_system")
    if value is not None and not 1 <= len(value) <= 128:
        raise QueryError("source_system: expected 1-128 characters")
    return value


def parse_time(name: str, value: str) -> float:
    """Epoch seconds, or ISO 8601 with a UTC offset (a date alone is not enough)."""
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        if not math.isfinite(seconds) or seconds < 0:
            raise QueryError(f"{name}={value!r}: expected a non-negative epoch time")
        return seconds
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise QueryError(
            f"{name}={value!r}: expected ISO 8601 with a UTC offset "
            "(e.g. 2026-11-01T00:00:00+08:00) or epoch seconds")
    return parsed.timestamp()


def parse_pending(query: Mapping[str, str]) -> PendingQuery:
    """Validate /pending parameters."""
    _unknown(query, {"region_code", "source_system", "older_than", "limit", "cursor",
                     "seller_tax_id"})
    older_than = None
    if "older_than" in query:
        try:
            older_than = parse_duration(query["older_than"])
        except ValueError:
            raise QueryError(f"older_than={query['older_than']!r}: expected "
                             f"{ACCEPTED_FORMAT}") from None
    limit = DEFAULT_LIMIT
    if "limit" in query:
        raw = query["limit"]
        # ASCII digits only ("²".isdigit() is true but int() refuses it), and few of them:
        # int() of a 5,000-digit string is work an anonymous caller should not get for free.
        digits = raw.isascii() and raw.isdigit() and len(raw) <= 6
        if not digits or not 1 <= int(raw) <= MAX_LIMIT:
            raise QueryError(f"limit={raw!r}: expected an integer from 1 to {MAX_LIMIT}")
        limit = int(raw)
    cursor = Cursor.decode(query["cursor"]) if "cursor" in query else None
    return PendingQuery(region_code=_region(query), source_system=_source(query),
                        older_than=older_than, limit=limit, cursor=cursor,
                        seller_tax_id=_seller(query))


def parse_summary(query: Mapping[str, str]) -> SummaryQuery:
    """Validate /summary parameters."""
    _unknown(query, {"region_code", "source_system", "since", "until"})
    since = parse_time("since", query["since"]) if "since" in query else None
    until = parse_time("until", query["until"]) if "until" in query else None
    if since is not None and until is not None and until <= since:
        raise QueryError("until must be later than since")
    return SummaryQuery(region_code=_region(query), source_system=_source(query),
                        since=since, until=until)
