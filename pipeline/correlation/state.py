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

Version 2 appends (version 1 records are still read)::

    u8  extras mask: bit 0 = total amount present
    i64 total amount in cents (if present)
    2 * (u16 length, bytes)  seller_name, invoice_number (None when equal to invoice_id:
                             the rules store it only when it differs, e.g. legacy code+number)
    u8  n, then n actions: f64 at, u8 kind (1 close, 2 reopen), 4 * (u16 length, bytes)
        action_id, actor, reason, note

A typical pending record is about 160 bytes with a Chinese seller name (about 100 in version 1),
a synced one about 185. Actions exist only on the few invoices an operator closed or reopened.
"""

from __future__ import annotations

import enum
import hashlib
import struct
from dataclasses import dataclass

from .facts import SYNCED_STATUSES, AckStatus, Action, ActionKind

FORMAT_VERSION = 2
#: Actions kept per invoice (the audit topic has them all; the record shows the recent ones).
ACTIONS_LIMIT = 8
#: Longest operator note kept in the record.
NOTE_MAX_CHARS = 500
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
    CLOSED = 64  # closed by an operator: no more unsynced alerts, not pending


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
    seller_name: str | None = None
    invoice_number: str | None = None
    total_amount_cents: int | None = None
    actions: tuple[Action, ...] = ()

    @property
    def is_issued(self) -> bool:
        """The invoice itself has been seen (otherwise this record only holds an ack)."""
        return self.issued_at is not None

    @property
    def is_synced(self) -> bool:
        """Issued and accepted (or duplicate) by the tax platform."""
        return self.is_issued and self.ack_status in SYNCED_STATUSES

    @property
    def is_closed(self) -> bool:
        """Closed out by an operator (voided, duplicate, test, handled offline)."""
        return bool(self.flags & Flag.CLOSED)


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
_I64 = struct.Struct("<q")
_ACTION_HEAD = struct.Struct("<dB")
_ACTION_KINDS: dict[ActionKind, int] = {"close": 1, "reopen": 2}
_ACTION_BY_CODE: dict[int, ActionKind] = {code: kind for kind, code in _ACTION_KINDS.items()}


def _seen_run(n: int) -> struct.Struct:
    run = _SEEN_RUNS.get(n)
    if run is None:
        run = _SEEN_RUNS[n] = struct.Struct(f"<B{n}Q")
    return run


def _flag(bits: int) -> Flag:
    flag = _FLAG_VALUES.get(bits)
    if flag is None:
        flag = Flag(bits)
        if bits < 128:  # the defined bits: at most 128 combinations are ever cached
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
        _put_text(parts, name, text)
    cents = state.total_amount_cents
    parts.append(bytes([0 if cents is None else 1]))
    if cents is not None:
        parts.append(_I64.pack(cents))
    _put_text(parts, "seller_name", state.seller_name)
    _put_text(parts, "invoice_number", state.invoice_number)
    parts.append(bytes([len(state.actions)]))
    for action in state.actions:
        parts.append(_ACTION_HEAD.pack(action.at, _ACTION_KINDS[action.kind]))
        for name, text in (("action_id", action.action_id), ("actor", action.actor),
                           ("reason", action.reason), ("note", action.note)):
            _put_text(parts, name, text)
    return b"".join(parts)


def _put_text(parts: list[bytes], name: str, text: str | None) -> None:
    if text is None:
        parts.append(_U16.pack(_ABSENT))
        return
    raw = text.encode("utf-8")
    if len(raw) >= _ABSENT:
        raise ValueError(f"{name} too long to encode ({len(raw)} bytes)")
    parts.append(_U16.pack(len(raw)))
    parts.append(raw)


def _get_text(data: bytes, offset: int, name: str) -> tuple[str | None, int]:
    (length,) = _U16.unpack_from(data, offset)
    offset += 2
    if length == _ABSENT:
        return None, offset
    end = offset + length
    if end > len(data):
        raise UndecodableRecord(f"corrupt invoice state record: {name} truncated")
    return data[offset:end].decode("utf-8"), end


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
    if len(data) < 1 or data[0] not in (1, FORMAT_VERSION):
        found = data[0] if len(data) else None
        raise UnsupportedVersion(f"unsupported invoice state format version {found!r}")
    version = data[0]
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
        text, offset = _get_text(data, offset, name)
        strings.append(text)
    cents = seller_name = invoice_number = None
    actions: list[Action] = []
    if version >= 2:
        extras = data[offset]
        offset += 1
        if extras & 1:
            (cents,) = _I64.unpack_from(data, offset)
            offset += 8
        seller_name, offset = _get_text(data, offset, "seller_name")
        invoice_number, offset = _get_text(data, offset, "invoice_number")
        count = data[offset]
        offset += 1
        for _ in range(count):
            at, kind = _ACTION_HEAD.unpack_from(data, offset)
            offset += _ACTION_HEAD.size
            action_id, offset = _get_text(data, offset, "action_id")
            actor, offset = _get_text(data, offset, "actor")
            reason, offset = _get_text(data, offset, "reason")
            note, offset = _get_text(data, offset, "note")
            actions.append(Action(invoice_id=strings[0] or "", action_id=action_id or "",
                                  kind=_ACTION_BY_CODE[kind], at=at, actor=actor or "",
                                  reason=reason, note=note))
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
        seller_name=seller_name,
        invoice_number=invoice_number,
        total_amount_cents=cents,
        actions=tuple(actions),
    )
