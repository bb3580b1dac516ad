"""The per-invoice record kept in the faust table, and its compact binary encoding.

One record per invoice id, in one of four shapes:

- held: an acknowledgement arrived before its invoice (``issued_at is None``, ack set,
  ``held_since`` and ``expires_at`` set);
- pending: issued, no acknowledgement yet (deadlines set);
- rejected: issued, last acknowledgement rejected (deadlines still apply);
- synced: issued and accepted/duplicate (``resolved_at`` and ``expires_at`` set).

Encoding, version 1 (all little-endian)::

    u8  version (= 1)
    u8  ack status: 0 none, 1 accepted, 2 rejected, 3 duplicate
    u32 partition
    u16 flags (Flag bits)
    u8  float presence mask, bit i set = float i present, in the order of _FLOATS
    f64 * popcount(mask)   the present floats, same order
    u8  n, then u64 * n    seen event id hashes (oldest first)
    6 * (u16 length, bytes)  invoice_id, region_code, source_system, seller_tax_id,
                             reason_code, reason as UTF-8; length 0xFFFF = None

A typical pending record is about 100 bytes, a synced one about 125.
"""

from __future__ import annotations

import enum
import hashlib
import struct
from dataclasses import dataclass

from .facts import SYNCED_STATUSES, AckStatus

FORMAT_VERSION = 1
#: Event ids remembered per invoice for deduplication (issued id + the last ack ids).
SEEN_LIMIT = 4
#: Longest rejection reason kept in the record; longer ones are cut (the alert carries it).
REASON_MAX_CHARS = 200


class Flag(enum.IntFlag):
    """Facts about an invoice that fit in a bit, mostly which alerts were already emitted."""

    RED = 1
    WARNED = 2  # unsynced warning emitted
    ESCALATED = 4  # unsynced critical emitted
    REJECTION_ALERTED = 8  # rejected alert emitted
    RESOLVED = 16  # resolved alert emitted
    REJECTED_AFTER_SYNC = 32  # a rejected ack came after the invoice was synced (recorded only)


NO_FLAGS = Flag(0)


@dataclass(frozen=True, slots=True)
class InvoiceState:
    """Compact per-invoice record; see the module docstring for the shapes it takes."""

    invoice_id: str
    partition: int
    flags: Flag = NO_FLAGS
    issued_at: float | None = None
    region_code: str | None = None
    source_system: str | None = None
    seller_tax_id: str | None = None
    warn_at: float | None = None
    critical_at: float | None = None
    ack_status: AckStatus | None = None
    acknowledged_at: float | None = None
    reason_code: str | None = None
    reason: str | None = None
    held_since: float | None = None
    resolved_at: float | None = None
    expires_at: float | None = None
    seen: tuple[int, ...] = ()

    @property
    def is_issued(self) -> bool:
        """The invoice itself has been seen (otherwise this record only holds an ack)."""
        return self.issued_at is not None

    @property
    def is_synced(self) -> bool:
        """Issued and accepted (or duplicate) by the tax platform."""
        return self.is_issued and self.ack_status in SYNCED_STATUSES


def event_hash(event_id: str) -> int:
    """64-bit digest of an event id: dedupe needs membership only, not the id itself."""
    return int.from_bytes(hashlib.blake2b(event_id.encode("utf-8"), digest_size=8).digest())


def remember(seen: tuple[int, ...], digest: int) -> tuple[int, ...]:
    """Add an event id digest, keeping the most recent SEEN_LIMIT."""
    return (*seen, digest)[-SEEN_LIMIT:]


_STATUS_CODES: dict[AckStatus | None, int] = {
    None: 0,
    "accepted": 1,
    "rejected": 2,
    "duplicate": 3,
}
_STATUS_BY_CODE = {code: status for status, code in _STATUS_CODES.items()}
_FLOATS = (
    "issued_at",
    "warn_at",
    "critical_at",
    "acknowledged_at",
    "held_since",
    "resolved_at",
    "expires_at",
)
_STRINGS = ("invoice_id", "region_code", "source_system", "seller_tax_id", "reason_code", "reason")
_HEADER = struct.Struct("<BBIHB")
_ABSENT = 0xFFFF


def encode(state: InvoiceState) -> bytes:
    """Serialise ``state`` in format version 1 (see module docstring)."""
    floats = [getattr(state, name) for name in _FLOATS]
    mask = sum(1 << i for i, value in enumerate(floats) if value is not None)
    parts = [
        _HEADER.pack(
            FORMAT_VERSION, _STATUS_CODES[state.ack_status], state.partition, state.flags, mask
        ),
        struct.pack(f"<{bin(mask).count('1')}d", *(v for v in floats if v is not None)),
        struct.pack(f"<B{len(state.seen)}Q", len(state.seen), *state.seen),
    ]
    for name in _STRINGS:
        text: str | None = getattr(state, name)
        if text is None:
            parts.append(struct.pack("<H", _ABSENT))
            continue
        raw = text.encode("utf-8")
        if len(raw) >= _ABSENT:
            raise ValueError(f"{name} too long to encode ({len(raw)} bytes)")
        parts.append(struct.pack("<H", len(raw)) + raw)
    return b"".join(parts)


def decode(data: bytes) -> InvoiceState:
    """Inverse of :func:`encode`; raises ValueError on an unknown version or corrupt data."""
    try:
        return _decode(memoryview(data))
    except (struct.error, KeyError, UnicodeDecodeError, IndexError) as exc:
        raise ValueError(f"corrupt invoice state record: {exc}") from exc


def _decode(view: memoryview) -> InvoiceState:
    if len(view) < 1 or view[0] != FORMAT_VERSION:
        found = view[0] if len(view) else None
        raise ValueError(f"unsupported invoice state format version {found!r}")
    _, status_code, partition, flags, mask = _HEADER.unpack_from(view, 0)
    offset = _HEADER.size
    count = bin(mask).count("1")
    present = iter(struct.unpack_from(f"<{count}d", view, offset))
    offset += 8 * count
    floats = {name: (next(present) if mask & (1 << i) else None) for i, name in enumerate(_FLOATS)}
    (n_seen,) = struct.unpack_from("<B", view, offset)
    seen = struct.unpack_from(f"<{n_seen}Q", view, offset + 1)
    offset += 1 + 8 * n_seen
    strings: dict[str, str | None] = {}
    for name in _STRINGS:
        (length,) = struct.unpack_from("<H", view, offset)
        offset += 2
        if length == _ABSENT:
            strings[name] = None
            continue
        if offset + length > len(view):
            raise ValueError(f"corrupt invoice state record: {name} truncated")
        strings[name] = bytes(view[offset : offset + length]).decode("utf-8")
        offset += length
    if offset != len(view):
        raise ValueError("corrupt invoice state record: trailing bytes")
    invoice_id = strings["invoice_id"]
    if invoice_id is None:
        raise ValueError("corrupt invoice state record: no invoice id")
    return InvoiceState(
        invoice_id=invoice_id,
        partition=partition,
        flags=Flag(flags),
        issued_at=floats["issued_at"],
        region_code=strings["region_code"],
        source_system=strings["source_system"],
        seller_tax_id=strings["seller_tax_id"],
        warn_at=floats["warn_at"],
        critical_at=floats["critical_at"],
        ack_status=_STATUS_BY_CODE[status_code],
        acknowledged_at=floats["acknowledged_at"],
        reason_code=strings["reason_code"],
        reason=strings["reason"],
        held_since=floats["held_since"],
        resolved_at=floats["resolved_at"],
        expires_at=floats["expires_at"],
        seen=tuple(seen),
    )
