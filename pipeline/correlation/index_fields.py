"""The fields of a stored record the in-memory indexes derive from, read without the rest.

A restart rebuilds the deadline index and the pending book from every record of its partitions
(a million of them). Those read eight fields (:class:`IndexedRecord`): the full :func:`decode`
builds all 26, a string per text, the actions and the upload block, and was half of a restart.
:func:`read_index_fields` reads the header, the three floats and the two strings the indexes
need; the rest of the record it only walks, holding it to every check :func:`decode` makes
(each length within the record, each text valid UTF-8, a known action kind and channel code,
no trailing bytes, an invoice id, a known ack status). So a record is indexed exactly when
:func:`decode` reads it, with the same field values (tests/unit/test_index_fields.py compares
the two over generated records of every format version and corrupted ones). When a check fails
the record goes to :func:`decode`, which raises what it always raised (the same error for the
same log line), or, should the walk ever doubt a record :func:`decode` reads, reads it.

The layout constants are the codec's own (state.py): the format is written down once.
"""

from __future__ import annotations

import struct
from typing import Protocol

from .facts import AckStatus
from .state import (
    _ABSENT,
    _ACTION_BY_CODE,
    _ACTION_HEAD,
    _CHANNEL_BY_CODE,
    _FLOAT_RUNS,
    _HEADER,
    _HEADER_SIZE,
    _POPCOUNT,
    _STATUS_BY_CODE,
    _SUBMISSION,
    _U16,
    _VERSIONS,
    _float_picks,
    decode,
)


class IndexedRecord(Protocol):
    """What the deadline index and the pending book read of a record
    (:func:`~pipeline.correlation.rules.next_deadline`, :func:`~.pending.pending_band`,
    :func:`~.pending.unsynced_cause`); an :class:`~.state.InvoiceState` is one."""

    @property
    def invoice_id(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def flags(self) -> int: ...
    @property
    def issued_at(self) -> float | None: ...
    @property
    def region_code(self) -> str | None: ...
    @property
    def warn_at(self) -> float | None: ...
    @property
    def critical_at(self) -> float | None: ...
    @property
    def ack_status(self) -> AckStatus | None: ...


class IndexFields:
    """The :class:`IndexedRecord` fields of one stored record, as :func:`decode` reads them."""

    __slots__ = ("ack_status", "critical_at", "flags", "invoice_id", "issued_at", "partition",
                 "region_code", "warn_at")

    def __init__(self, invoice_id: str, partition: int, flags: int, issued_at: float | None,
                 region_code: str | None, warn_at: float | None, critical_at: float | None,
                 ack_status: AckStatus | None) -> None:
        self.invoice_id = invoice_id
        self.partition = partition
        self.flags = flags
        self.issued_at = issued_at
        self.region_code = region_code
        self.warn_at = warn_at
        self.critical_at = critical_at
        self.ack_status = ack_status


def read_index_fields(data: bytes) -> IndexedRecord:
    """The indexed fields of the stored record ``data``; raises :class:`~.state.UndecodableRecord`
    (or its :class:`~.state.UnsupportedVersion`) exactly when :func:`decode` does."""
    try:
        fields = _read(data)
    except (struct.error, KeyError, UnicodeDecodeError, IndexError, ValueError):
        fields = None
    return decode(data) if fields is None else fields


# Per float mask byte: issued_at, warn_at and critical_at (the first three floats of the format).
_INDEXED_FLOATS = _float_picks(3)
_SUBMISSION_SIZE = _SUBMISSION.size
_ACTION_HEAD_SIZE = _ACTION_HEAD.size


def _read(data: bytes) -> IndexFields | None:
    """None (or a raise) where :func:`decode` would find fault; the walk below follows its
    order of fields. A length past the end needs no check of its own here: offsets only grow,
    so the next read past the end raises and the final size check fails."""
    size = len(data)
    version = data[0] if size else None
    if version not in _VERSIONS:
        return None
    _, status_code, partition, flags, mask = _HEADER.unpack_from(data, 0)
    count = _POPCOUNT[mask]
    issued_at, warn_at, critical_at = _INDEXED_FLOATS[mask](
        (*_FLOAT_RUNS[count].unpack_from(data, _HEADER_SIZE), None))
    offset = _HEADER_SIZE + 8 * count
    offset += 1 + 8 * data[offset]  # the seen event ids
    unpack_u16 = _U16.unpack_from
    # The texts inline: invoice_id and region_code kept, the others only checked. A call per
    # text, or a loop, costs more (valgrind, 5,000 version-2 records: 27,100 instructions per
    # record inline, 30,250 with a loop over the four checked texts, 32,000 with calls over
    # runs of them). Actions and the upload block are rare.
    (length,) = unpack_u16(data, offset)
    if length == _ABSENT:
        return None  # no invoice id
    offset += 2
    end = offset + length
    invoice_id = data[offset:end].decode("utf-8")
    (length,) = unpack_u16(data, end)
    offset = end + 2
    if length == _ABSENT:
        region_code = None
    else:
        end = offset + length
        region_code = data[offset:end].decode("utf-8")
        offset = end
    # source_system, seller_tax_id, reason_code, reason
    (length,) = unpack_u16(data, offset)
    offset += 2
    if length != _ABSENT:
        end = offset + length
        data[offset:end].decode("utf-8")
        offset = end
    (length,) = unpack_u16(data, offset)
    offset += 2
    if length != _ABSENT:
        end = offset + length
        data[offset:end].decode("utf-8")
        offset = end
    (length,) = unpack_u16(data, offset)
    offset += 2
    if length != _ABSENT:
        end = offset + length
        data[offset:end].decode("utf-8")
        offset = end
    (length,) = unpack_u16(data, offset)
    offset += 2
    if length != _ABSENT:
        end = offset + length
        data[offset:end].decode("utf-8")
        offset = end
    if version >= 2:
        offset += 9 if data[offset] & 1 else 1  # extras mask, total amount
        # seller_name, invoice_number
        (length,) = unpack_u16(data, offset)
        offset += 2
        if length != _ABSENT:
            end = offset + length
            data[offset:end].decode("utf-8")
            offset = end
        (length,) = unpack_u16(data, offset)
        offset += 2
        if length != _ABSENT:
            end = offset + length
            data[offset:end].decode("utf-8")
            offset = end
        actions = data[offset]
        offset += 1
        for _ in range(actions):
            _ACTION_BY_CODE[_ACTION_HEAD.unpack_from(data, offset)[1]]
            offset += _ACTION_HEAD_SIZE
            for _ in range(4):  # action_id, actor, reason, note
                offset = _skip_text(data, offset)
    if version >= 3:
        _CHANNEL_BY_CODE[_SUBMISSION.unpack_from(data, offset)[0]]
        offset = _skip_text(data, _skip_text(data, offset + _SUBMISSION_SIZE))
    if offset != size:
        return None
    return IndexFields(invoice_id, partition, flags, issued_at, region_code, warn_at,
                       critical_at, _STATUS_BY_CODE[status_code])


def _skip_text(data: bytes, offset: int) -> int:
    """The offset after the text at ``offset``, which must be valid UTF-8."""
    length: int = _U16.unpack_from(data, offset)[0]
    offset += 2
    if length == _ABSENT:
        return offset
    end = offset + length
    data[offset:end].decode("utf-8")
    return end
