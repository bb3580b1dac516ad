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


class UndecodableRecord(ValueError):
    """Stored bytes this version cannot read: a newer format version, or corrupt data.

    The record is left as it is (docs/state-format.md): a worker that can read it may own the
    partition later, and rewriting it would lose what it holds.
    """


class UnsupportedVersion(UndecodableRecord):
    """A state format version this code does not know (a newer worker wrote it)."""


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


# Precompiled codecs: a restart decodes every record of the table (a million of them), and every
# event encodes one, so nothing here builds a format string or a dict per record.
_FLOAT_RUNS = tuple(struct.Struct(f"<{n}d") for n in range(9))  # the mask byte may claim 8
_SEEN_RUNS: dict[int, struct.Struct] = {}
_U16 = struct.Struct("<H")
_POPCOUNT = tuple(bin(mask).count("1") for mask in range(256))
_FLAG_VALUES: dict[int, Flag] = {}


def _seen_run(n: int) -> struct.Struct:
    run = _SEEN_RUNS.get(n)
    if run is None:
        run = _SEEN_RUNS[n] = struct.Struct(f"<B{n}Q")
    return run


def _flag(bits: int) -> Flag:
    flag = _FLAG_VALUES.get(bits)
    if flag is None:
        flag = Flag(bits)
        if bits < 64:  # the defined bits: at most 64 combinations are ever cached
            _FLAG_VALUES[bits] = flag
    return flag


def encode(state: InvoiceState) -> bytes:
    """Serialise ``state`` in format version 1 (see module docstring)."""
    floats = (state.issued_at, state.warn_at, state.critical_at, state.acknowledged_at,
              state.held_since, state.resolved_at, state.expires_at)
    present = [value for value in floats if value is not None]
    mask = 0
    for i, value in enumerate(floats):
        if value is not None:
            mask |= 1 << i
    seen = state.seen
    parts = [
        _HEADER.pack(
            FORMAT_VERSION, _STATUS_CODES[state.ack_status], state.partition, state.flags, mask
        ),
        _FLOAT_RUNS[len(present)].pack(*present),
        _seen_run(len(seen)).pack(len(seen), *seen),
    ]
    for name, text in zip(_STRINGS, (state.invoice_id, state.region_code, state.source_system,
                                     state.seller_tax_id, state.reason_code, state.reason),
                          strict=True):
        if text is None:
            parts.append(_U16.pack(_ABSENT))
            continue
        raw = text.encode("utf-8")
        if len(raw) >= _ABSENT:
            raise ValueError(f"{name} too long to encode ({len(raw)} bytes)")
        parts.append(_U16.pack(len(raw)))
        parts.append(raw)
    return b"".join(parts)


def decode(data: bytes) -> InvoiceState:
    """Inverse of :func:`encode`; raises UnsupportedVersion on an unknown version and
    UndecodableRecord (both ValueErrors) on corrupt data."""
    try:
        return _decode(bytes(data))
    except UndecodableRecord:
        raise
    except (struct.error, KeyError, UnicodeDecodeError, IndexError, ValueError) as exc:
        raise UndecodableRecord(f"corrupt invoice state record: {exc}") from exc


def _decode(data: bytes) -> InvoiceState:
    if len(data) < 1 or data[0] != FORMAT_VERSION:
        found = data[0] if len(data) else None
        raise UnsupportedVersion(f"unsupported invoice state format version {found!r}")
    _, status_code, partition, flags, mask = _HEADER.unpack_from(data, 0)
    offset = _HEADER.size
    count = _POPCOUNT[mask]
    values = iter(_FLOAT_RUNS[count].unpack_from(data, offset))
    offset += 8 * count
    # In the order of _FLOATS: issued_at, warn_at, critical_at, acknowledged_at, held_since,
    # resolved_at, expires_at.
    f = [next(values) if mask & (1 << i) else None for i in range(7)]
    n_seen = data[offset]
    seen = _seen_run(n_seen).unpack_from(data, offset)[1:]
    offset += 1 + 8 * n_seen
    strings: list[str | None] = []
    for name in _STRINGS:
        (length,) = _U16.unpack_from(data, offset)
        offset += 2
        if length == _ABSENT:
            strings.append(None)
            continue
        end = offset + length
        if end > len(data):
            raise UndecodableRecord(f"corrupt invoice state record: {name} truncated")
        strings.append(data[offset:end].decode("utf-8"))
        offset = end
    if offset != len(data):
        raise UndecodableRecord("corrupt invoice state record: trailing bytes")
    invoice_id, region_code, source_system, seller_tax_id, reason_code, reason = strings
    if invoice_id is None:
        raise UndecodableRecord("corrupt invoice state record: no invoice id")
    return InvoiceState(
        invoice_id=invoice_id,
        partition=partition,
        flags=_flag(flags),
        issued_at=f[0],
        region_code=region_code,
        source_system=source_system,
        seller_tax_id=seller_tax_id,
        warn_at=f[1],
        critical_at=f[2],
        ack_status=_STATUS_BY_CODE[status_code],
        acknowledged_at=f[3],
        reason_code=reason_code,
        reason=reason,
        held_since=f[4],
        resolved_at=f[5],
        expires_at=f[6],
        seen=tuple(seen),
    )
