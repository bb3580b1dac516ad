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

Version 2 is version 1 (with version byte 2) followed by what the invoice.submitted topic told
us about the last upload attempt, written only once a submission was seen (so without that
topic every record stays version 1, byte for byte)::

    u8  channel: 0 none, 1 leqi, 2 web, 3 third_party
    u16 attempts (highest attempt number seen)
    f64 submitted_at of the last attempt
    2 * (u16 length, bytes)  client ("name/version", cut to CLIENT_MAX_CHARS) and
                             transport_error of the last attempt (cut to ERROR_MAX_CHARS)

That is 15 bytes plus the two strings (about 40 bytes for a typical uploader); the in-memory
indexes (deadline heap, pending book) hold nothing of it.
"""

from __future__ import annotations

import enum
import hashlib
import math
import struct
from dataclasses import dataclass

from .facts import SYNCED_STATUSES, AckStatus, Channel

FORMAT_VERSION = 1
SUBMISSION_FORMAT_VERSION = 2
#: Event ids remembered per invoice for deduplication (issued id + the last ack ids).
SEEN_LIMIT = 4
#: Longest rejection reason kept in the record; longer ones are cut (the alert carries it).
REASON_MAX_CHARS = 200
#: Longest client ("name/version") and transport error kept from a submission.
CLIENT_MAX_CHARS = 64
ERROR_MAX_CHARS = 64


class Flag(enum.IntFlag):
    """Facts about an invoice that fit in a bit, mostly which alerts were already emitted."""

    RED = 1
    WARNED = 2  # unsynced warning emitted
    ESCALATED = 4  # unsynced critical emitted
    REJECTION_ALERTED = 8  # rejected alert emitted
    RESOLVED = 16  # resolved alert emitted
    REJECTED_AFTER_SYNC = 32  # a rejected ack came after the invoice was synced (recorded only)
    DEFERRED = 64  # a deadline fell in a declared maintenance window and was moved past it


NO_FLAGS = Flag(0)

#: The probable cause named on the invoice's unsynced alert, as a 4-bit code in flag bits 8-11
#: (0: none named): the unsynced-by-cause gauge is derived from the records, like the others.
CAUSE_SHIFT = 8
CAUSE_MASK = 0xF << CAUSE_SHIFT
CAUSE_BITS: tuple[str, ...] = (
    "", "not_submitted", "submission_failed", "awaiting_platform", "platform_unavailable",
    "platform_maintenance", "source_outage", "client_version", "rejected_fields", "unknown")


def with_cause(flags: Flag, code: str) -> Flag:
    """``flags`` recording ``code`` as the named cause."""
    return Flag((int(flags) & ~CAUSE_MASK) | (CAUSE_BITS.index(code) << CAUSE_SHIFT))


def named_cause(flags: Flag) -> str | None:
    """The cause recorded in ``flags`` (None: none named)."""
    index = (int(flags) & CAUSE_MASK) >> CAUSE_SHIFT
    return CAUSE_BITS[index] or None if index < len(CAUSE_BITS) else None


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
    # The last upload attempt (invoice.submitted); attempts == 0: none seen.
    submitted_at: float | None = None
    attempts: int = 0
    channel: Channel | None = None
    client: str | None = None
    transport_error: str | None = None

    @property
    def is_issued(self) -> bool:
        """The invoice itself has been seen (otherwise this record only holds an ack)."""
        return self.issued_at is not None

    @property
    def is_submitted(self) -> bool:
        """An upload attempt was seen (it may have failed: see ``transport_error``)."""
        return self.attempts > 0

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
_CHANNEL_CODES: dict[Channel | None, int] = {None: 0, "leqi": 1, "web": 2, "third_party": 3}
_CHANNEL_BY_CODE = {code: channel for channel, code in _CHANNEL_CODES.items()}
_SUBMISSION = struct.Struct("<BHd")
_HEADER = struct.Struct("<BBIHB")
_ABSENT = 0xFFFF
#: submitted_at when absent in a version 2 record: NaN (never a real time).
_NO_TIME = float("nan")


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
        if bits < 4096:  # the defined bits and the cause code: bounded combinations cached
            _FLAG_VALUES[bits] = flag
    return flag


def encode(state: InvoiceState) -> bytes:
    """Serialise ``state``: version 1, or 2 once a submission was seen (module docstring)."""
    floats = (state.issued_at, state.warn_at, state.critical_at, state.acknowledged_at,
              state.held_since, state.resolved_at, state.expires_at)
    present = [value for value in floats if value is not None]
    mask = 0
    for i, value in enumerate(floats):
        if value is not None:
            mask |= 1 << i
    seen = state.seen
    submitted = (state.attempts > 0 or state.submitted_at is not None or state.channel is not None
                 or state.client is not None or state.transport_error is not None)
    version = SUBMISSION_FORMAT_VERSION if submitted else FORMAT_VERSION
    parts = [
        _HEADER.pack(
            version, _STATUS_CODES[state.ack_status], state.partition, state.flags, mask
        ),
        _FLOAT_RUNS[len(present)].pack(*present),
        _seen_run(len(seen)).pack(len(seen), *seen),
    ]
    _pack_strings(parts, _STRINGS, (state.invoice_id, state.region_code, state.source_system,
                                    state.seller_tax_id, state.reason_code, state.reason))
    if submitted:
        at = state.submitted_at if state.submitted_at is not None else _NO_TIME
        parts.append(_SUBMISSION.pack(_CHANNEL_CODES[state.channel], state.attempts, at))
        _pack_strings(parts, ("client", "transport_error"), (state.client, state.transport_error))
    return b"".join(parts)


def _pack_strings(parts: list[bytes], names: tuple[str, ...],
                  texts: tuple[str | None, ...]) -> None:
    for name, text in zip(names, texts, strict=True):
        if text is None:
            parts.append(_U16.pack(_ABSENT))
            continue
        raw = text.encode("utf-8")
        if len(raw) >= _ABSENT:
            raise ValueError(f"{name} too long to encode ({len(raw)} bytes)")
        parts.append(_U16.pack(len(raw)))
        parts.append(raw)


def decode(data: bytes) -> InvoiceState:
    """Inverse of :func:`encode`; raises ValueError on an unknown version or corrupt data."""
    try:
        return _decode(bytes(data))
    except (struct.error, KeyError, UnicodeDecodeError, IndexError) as exc:
        raise ValueError(f"corrupt invoice state record: {exc}") from exc


def _decode(data: bytes) -> InvoiceState:
    if len(data) < 1 or data[0] not in (FORMAT_VERSION, SUBMISSION_FORMAT_VERSION):
        found = data[0] if len(data) else None
        raise ValueError(f"unsupported invoice state format version {found!r}")
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
    strings, offset = _strings(data, offset, _STRINGS)
    submission: tuple[int, int, float] = (0, 0, _NO_TIME)
    extra: list[str | None] = [None, None]
    if data[0] == SUBMISSION_FORMAT_VERSION:
        submission = _SUBMISSION.unpack_from(data, offset)
        extra, offset = _strings(data, offset + _SUBMISSION.size, ("client", "transport_error"))
    if offset != len(data):
        raise ValueError("corrupt invoice state record: trailing bytes")
    invoice_id, region_code, source_system, seller_tax_id, reason_code, reason = strings
    if invoice_id is None:
        raise ValueError("corrupt invoice state record: no invoice id")
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
        submitted_at=None if math.isnan(submission[2]) else submission[2],
        attempts=submission[1],
        channel=_CHANNEL_BY_CODE[submission[0]],
        client=extra[0],
        transport_error=extra[1],
    )


def _strings(data: bytes, offset: int, names: tuple[str, ...]) -> tuple[list[str | None], int]:
    strings: list[str | None] = []
    for name in names:
        (length,) = _U16.unpack_from(data, offset)
        offset += 2
        if length == _ABSENT:
            strings.append(None)
            continue
        end = offset + length
        if end > len(data):
            raise ValueError(f"corrupt invoice state record: {name} truncated")
        strings.append(data[offset:end].decode("utf-8"))
        offset = end
    return strings, offset
