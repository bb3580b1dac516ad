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

Version 3 is version 2 followed by what the invoice.submitted topic told us about the last upload
attempt, written only once a submission was seen (so without that topic no record is version 3;
set INVOICE_SYNC_TOPIC_SUBMITTED only once every worker of the group reads version 3)::

    u8  channel: 0 none, 1 leqi, 2 web, 3 third_party
    u16 attempts (highest attempt number seen)
    f64 submitted_at of the last attempt (NaN: none)
    2 * (u16 length, bytes)  client ("name/version", cut to CLIENT_MAX_CHARS) and
                             transport_error of the last attempt (cut to ERROR_MAX_CHARS)

That is 15 bytes plus the two strings (about 40 bytes for a typical uploader); the in-memory
indexes (deadline heap, pending book) hold nothing of it.
"""

from __future__ import annotations

import hashlib
import operator
import struct
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

from .facts import SYNCED_STATUSES, AckStatus, Action, ActionKind, Channel

FORMAT_VERSION = 2
#: Written instead of FORMAT_VERSION once a record holds an upload attempt.
SUBMISSION_FORMAT_VERSION = 3
#: The newest version this code reads.
LATEST_VERSION = SUBMISSION_FORMAT_VERSION
#: Actions kept per invoice (the audit topic has them all; the record shows the recent ones).
ACTIONS_LIMIT = 8
#: Longest operator note kept in the record.
NOTE_MAX_CHARS = 500
#: Event ids remembered per invoice for deduplication (issued id + the last ack ids).
SEEN_LIMIT = 4
#: Longest rejection reason kept in the record; longer ones are cut (the alert carries it).
REASON_MAX_CHARS = 200
#: Longest client ("name/version") and transport error kept from a submission.
CLIENT_MAX_CHARS = 64
ERROR_MAX_CHARS = 64


class Flag(int):
    """Facts about an invoice that fit in a bit, mostly which alerts were already emitted.

    Plain ``int`` bit constants (the record's u16 ``flags``), not an ``enum.IntFlag``: every
    event and every record of a restart tests and sets flags, and IntFlag arithmetic builds an
    enum member per operation (about 1 µs each, 5-10 % of the worker's CPU in its profiles).
    ``Flag(bits)`` still gives an int of those bits.
    """

    RED = 1
    WARNED = 2  # unsynced warning emitted
    ESCALATED = 4  # unsynced critical emitted
    REJECTION_ALERTED = 8  # rejected alert emitted
    RESOLVED = 16  # resolved alert emitted
    REJECTED_AFTER_SYNC = 32  # a rejected ack came after the invoice was synced (recorded only)
    CLOSED = 64  # closed by an operator: no more unsynced alerts, not pending
    DEFERRED = 128  # a deadline fell in a declared maintenance window and was moved past it


NO_FLAGS = 0
#: The eight bits above. ``flags & ~Flag.X`` on the former IntFlag kept only these (its ``~``
#: inverted within the defined members): :func:`without` keeps that, cause code included.
FLAG_BITS = 0xFF


def without(flags: int, flag: int) -> int:
    """``flags`` with ``flag`` cleared, as the former IntFlag's ``flags & ~flag`` gave it: the
    bits outside FLAG_BITS (the cause code) are cleared too."""
    return flags & (FLAG_BITS & ~flag)

#: The probable cause named on the invoice's unsynced alert, as a 4-bit code in flag bits 8-11
#: (0: none named): the unsynced-by-cause gauge is derived from the records, like the others.
CAUSE_SHIFT = 8
CAUSE_MASK = 0xF << CAUSE_SHIFT
CAUSE_BITS: tuple[str, ...] = (
    "", "not_submitted", "submission_failed", "awaiting_platform", "platform_unavailable",
    "platform_maintenance", "source_outage", "client_version", "rejected_fields", "unknown")


def with_cause(flags: int, code: str) -> int:
    """``flags`` recording ``code`` as the named cause."""
    return (flags & ~CAUSE_MASK) | (CAUSE_BITS.index(code) << CAUSE_SHIFT)


def named_cause(flags: int) -> str | None:
    """The cause recorded in ``flags`` (None: none named)."""
    index = (flags & CAUSE_MASK) >> CAUSE_SHIFT
    return (CAUSE_BITS[index] or None) if index < len(CAUSE_BITS) else None


class UndecodableRecord(ValueError):
    """Stored bytes this version cannot read: a newer format version, or corrupt data.

    The record is left as it is (docs/state-format.md): a worker that can read it may own the
    partition later, and rewriting it would lose what it holds.
    """


class UnsupportedVersion(UndecodableRecord):
    """A state format version this code does not know (a newer worker wrote it)."""


@dataclass(slots=True, unsafe_hash=True)
class InvoiceState:
    """Compact per-invoice record; see the module docstring for the shapes it takes.

    A value: the rules never change a record in place, they return a new one
    (:meth:`evolve`), and records compare and hash by their fields. Not ``frozen``, because
    a frozen dataclass sets each of these 26 fields through ``object.__setattr__``: building
    records cost 10-13 % of the worker's CPU per event and of a restart's rebuild.
    """

    invoice_id: str
    partition: int
    flags: int = NO_FLAGS
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
    def has_submission(self) -> bool:
        """Any upload fact is set (the record is then written in version 3)."""
        return (self.attempts > 0 or self.submitted_at is not None or self.channel is not None
                or self.client is not None or self.transport_error is not None)

    @property
    def is_synced(self) -> bool:
        """Issued and accepted (or duplicate) by the tax platform."""
        return self.is_issued and self.ack_status in SYNCED_STATUSES

    @property
    def is_closed(self) -> bool:
        """Closed out by an operator (voided, duplicate, test, handled offline)."""
        return bool(self.flags & Flag.CLOSED)

    def evolve(self, **changes: Any) -> InvoiceState:
        """A new record: this one with ``changes`` (``dataclasses.replace`` at a fifth of
        the cost: a positional copy, then the changed fields set on the copy, which nothing
        else holds yet). Unknown field names raise AttributeError."""
        record = _copy(self)
        for name, value in changes.items():
            setattr(record, name, value)
        return record


_FIELDS = tuple(field.name for field in fields(InvoiceState))
# What dataclasses generates for __init__, for the copy: every field, positionally.
_copy: Callable[[InvoiceState], InvoiceState] = eval(  # field names only, from fields()
    f"lambda s: InvoiceState({', '.join(f's.{name}' for name in _FIELDS)})",
    {"InvoiceState": InvoiceState})


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
_HEADER_SIZE = _HEADER.size
_ABSENT = 0xFFFF
_ABSENT_LENGTH = struct.pack("<H", _ABSENT)
_VERSIONS = frozenset({1, FORMAT_VERSION, SUBMISSION_FORMAT_VERSION})


# Precompiled codecs: a restart decodes every record of the table (a million of them), and every
# event encodes one, so nothing here builds a format string or a dict per record.
_FLOAT_RUNS = tuple(struct.Struct(f"<{n}d") for n in range(9))  # the mask byte may claim 8
_SEEN_RUNS: dict[int, struct.Struct] = {}
_HEAD_RUNS: dict[tuple[int, int], struct.Struct] = {}
_U16 = struct.Struct("<H")
_POPCOUNT = tuple(bin(mask).count("1") for mask in range(256))


def _float_picks(fields: int) -> tuple[operator.itemgetter[Any], ...]:
    """Per mask byte: what picks the first ``fields`` floats of _FLOATS out of (present
    floats..., None), an absent one as the trailing None (index -1); a record claiming an
    eighth float has it read, ignored. ``fields`` >= 2: itemgetter of one index gives no
    tuple."""
    return tuple(
        operator.itemgetter(*(_POPCOUNT[mask & ((1 << i) - 1)] if mask & (1 << i) else -1
                              for i in range(fields)))
        for mask in range(256))


_FLOAT_PICKS = _float_picks(7)
_I64 = struct.Struct("<q")
_ACTION_HEAD = struct.Struct("<dB")
_ACTION_KINDS: dict[ActionKind, int] = {"close": 1, "reopen": 2}
_ACTION_BY_CODE: dict[int, ActionKind] = {code: kind for kind, code in _ACTION_KINDS.items()}
_CHANNEL_CODES: dict[Channel | None, int] = {None: 0, "leqi": 1, "web": 2, "third_party": 3}
_CHANNEL_BY_CODE = {code: channel for channel, code in _CHANNEL_CODES.items()}
_SUBMISSION = struct.Struct("<BHd")
#: submitted_at when absent in a version 3 record: NaN (never a real time).
_NO_TIME = float("nan")


def _head_run(floats: int, seen: int) -> struct.Struct:
    run = _HEAD_RUNS.get((floats, seen))
    if run is None:
        run = _HEAD_RUNS[floats, seen] = struct.Struct(f"<BBIHB{floats}dB{seen}Q")
    return run


def _seen_run(n: int) -> struct.Struct:
    run = _SEEN_RUNS.get(n)
    if run is None:
        run = _SEEN_RUNS[n] = struct.Struct(f"<B{n}Q")
    return run



#: Length-prefixed UTF-8 of the strings that repeat across invoices (region, source system,
#: seller id and name, reason code), as encode writes them; None is the absent marker. A shop
#: issues most invoices under a few of each, so encoding them is a dict lookup per record.
_PIECES: dict[str | None, bytes] = {None: _ABSENT_LENGTH}
#: Distinct strings kept in _PIECES (then all forgotten at once): about 1 MB at most.
PIECES_CACHED = 8192
_CENTS = struct.Struct("<Bq")
_NO_CENTS = b"\x00"
_NO_ACTIONS = b"\x00"


def _piece(name: str, text: str | None) -> bytes:
    """``text`` as encode writes it: u16 length and UTF-8, or the absent marker."""
    if text is None:
        return _ABSENT_LENGTH
    raw = text.encode("utf-8")
    if len(raw) >= _ABSENT:
        raise ValueError(f"{name} too long to encode ({len(raw)} bytes)")
    return _U16.pack(len(raw)) + raw


def _shared_piece(name: str, text: str | None) -> bytes:
    """:func:`_piece` of a string that repeats across records, remembered in _PIECES."""
    piece = _piece(name, text)
    if len(_PIECES) >= PIECES_CACHED:
        _PIECES.clear()
        _PIECES[None] = _ABSENT_LENGTH
    _PIECES[text] = piece
    return piece


def encode(state: InvoiceState) -> bytes:
    """Serialise ``state``: version 2, or 3 once it holds an upload attempt (module docstring)."""
    issued_at, warn_at, critical_at, acknowledged_at = (
        state.issued_at, state.warn_at, state.critical_at, state.acknowledged_at)
    held_since, resolved_at, expires_at = state.held_since, state.resolved_at, state.expires_at
    present = [value for value in (issued_at, warn_at, critical_at, acknowledged_at, held_since,
                                   resolved_at, expires_at) if value is not None]
    mask = ((issued_at is not None) | (warn_at is not None) << 1
            | (critical_at is not None) << 2 | (acknowledged_at is not None) << 3
            | (held_since is not None) << 4 | (resolved_at is not None) << 5
            | (expires_at is not None) << 6)
    seen = state.seen
    submission = state.has_submission
    pieces = _PIECES.get
    region_code, source_system, seller_tax_id = (
        state.region_code, state.source_system, state.seller_tax_id)
    reason_code, seller_name = state.reason_code, state.seller_name
    cents = state.total_amount_cents
    # Header, floats and seen ids in one pack (a Struct per float and id count); the repeating
    # strings from _PIECES; one join.
    parts = [
        _head_run(len(present), len(seen)).pack(
            SUBMISSION_FORMAT_VERSION if submission else FORMAT_VERSION,
            _STATUS_CODES[state.ack_status], state.partition, state.flags, mask,
            *present, len(seen), *seen),
        _piece("invoice_id", state.invoice_id),
        pieces(region_code) or _shared_piece("region_code", region_code),
        pieces(source_system) or _shared_piece("source_system", source_system),
        pieces(seller_tax_id) or _shared_piece("seller_tax_id", seller_tax_id),
        pieces(reason_code) or _shared_piece("reason_code", reason_code),
        _piece("reason", state.reason),
        _NO_CENTS if cents is None else _CENTS.pack(1, cents),
        pieces(seller_name) or _shared_piece("seller_name", seller_name),
        _piece("invoice_number", state.invoice_number),
    ]
    actions = state.actions
    if not actions:
        parts.append(_NO_ACTIONS)
    else:
        parts.append(bytes([len(actions)]))
        for action in actions:
            parts.append(_ACTION_HEAD.pack(action.at, _ACTION_KINDS[action.kind]))
            for name, text in (("action_id", action.action_id), ("actor", action.actor),
                               ("reason", action.reason), ("note", action.note)):
                parts.append(_piece(name, text))
    if submission:
        at = state.submitted_at if state.submitted_at is not None else _NO_TIME
        parts.append(_SUBMISSION.pack(_CHANNEL_CODES[state.channel], state.attempts, at))
        parts.append(_piece("client", state.client))
        parts.append(_piece("transport_error", state.transport_error))
    return b"".join(parts)


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
    size = len(data)
    version = data[0] if size else None
    if version not in _VERSIONS:
        raise UnsupportedVersion(f"unsupported invoice state format version {version!r}")
    _, status_code, partition, flags, mask = _HEADER.unpack_from(data, 0)
    offset = _HEADER_SIZE
    count = _POPCOUNT[mask]
    issued_at, warn_at, critical_at, acknowledged_at, held_since, resolved_at, expires_at = (
        _FLOAT_PICKS[mask]((*_FLOAT_RUNS[count].unpack_from(data, offset), None)))
    offset += 8 * count
    n_seen = data[offset]
    seen = _seen_run(n_seen).unpack_from(data, offset)[1:]
    offset += 1 + 8 * n_seen
    # The strings inline (a call per string was a fifth of a restart's decode).
    strings: list[str | None] = []
    append = strings.append
    unpack_u16 = _U16.unpack_from
    for name in _STRINGS:
        (length,) = unpack_u16(data, offset)
        offset += 2
        if length == _ABSENT:
            append(None)
            continue
        end = offset + length
        if end > size:
            raise UndecodableRecord(f"corrupt invoice state record: {name} truncated")
        append(data[offset:end].decode("utf-8"))
        offset = end
    cents = seller_name = invoice_number = None
    actions: tuple[Action, ...] = ()
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
        if count:
            actions, offset = _get_actions(data, offset, count, strings[0] or "")
    channel_code, attempts, submitted_at = 0, 0, _NO_TIME
    client = transport_error = None
    if version >= 3:
        channel_code, attempts, submitted_at = _SUBMISSION.unpack_from(data, offset)
        offset += _SUBMISSION.size
        client, offset = _get_text(data, offset, "client")
        transport_error, offset = _get_text(data, offset, "transport_error")
    if offset != size:
        raise UndecodableRecord("corrupt invoice state record: trailing bytes")
    invoice_id, region_code, source_system, seller_tax_id, reason_code, reason = strings
    if invoice_id is None:
        raise UndecodableRecord("corrupt invoice state record: no invoice id")
    # Positionally, in the field order of InvoiceState.
    return InvoiceState(
        invoice_id, partition, flags, issued_at, region_code, source_system, seller_tax_id,
        warn_at, critical_at, _STATUS_BY_CODE[status_code], acknowledged_at, reason_code,
        reason, held_since, resolved_at, expires_at, seen, seller_name, invoice_number, cents,
        actions, None if submitted_at != submitted_at else submitted_at,  # NaN: none
        attempts, _CHANNEL_BY_CODE[channel_code], client, transport_error)


def _get_actions(data: bytes, offset: int, count: int,
                 invoice_id: str) -> tuple[tuple[Action, ...], int]:
    actions: list[Action] = []
    for _ in range(count):
        at, kind = _ACTION_HEAD.unpack_from(data, offset)
        offset += _ACTION_HEAD.size
        action_id, offset = _get_text(data, offset, "action_id")
        actor, offset = _get_text(data, offset, "actor")
        reason, offset = _get_text(data, offset, "reason")
        note, offset = _get_text(data, offset, "note")
        actions.append(Action(invoice_id=invoice_id, action_id=action_id or "",
                              kind=_ACTION_BY_CODE[kind], at=at, actor=actor or "",
                              reason=reason, note=note))
    return tuple(actions), offset
