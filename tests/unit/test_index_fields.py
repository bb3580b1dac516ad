"""The indexed fields of a stored record, read without the rest, against the full decode: the
same fields of every record :func:`decode` reads, of every format version, and the same error
for every record it refuses (generated records, corrupted ones, and each check named)."""

from __future__ import annotations

import struct
from dataclasses import replace

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from pipeline.correlation.facts import Action
from pipeline.correlation.index_fields import IndexFields, read_index_fields
from pipeline.correlation.state import (
    FORMAT_VERSION,
    SUBMISSION_FORMAT_VERSION,
    InvoiceState,
    UndecodableRecord,
    decode,
    encode,
)
from tests.unit.test_correlation_state import T0, realistic, states, submitted_states

FIELDS = ("invoice_id", "partition", "flags", "issued_at", "region_code", "warn_at",
          "critical_at", "ack_status")

#: Every flag bit the record can hold (closed, deferred, the cause code), not only alerts.
all_flags = st.builds(replace, states, flags=st.integers(0, 2**16 - 1))
any_version = st.one_of(all_flags, submitted_states)


def version_1(state: InvoiceState) -> bytes:
    """``state`` as a version-1 worker wrote it (no seller name, amount, actions or upload)."""
    v2 = encode(replace(state, seller_name=None, invoice_number=None, total_amount_cents=None,
                        actions=(), submitted_at=None, attempts=0, channel=None, client=None,
                        transport_error=None))
    return b"\x01" + v2[1:-6]


def outcome(read: object, data: bytes) -> object:
    """What reading ``data`` gives: the indexed fields (floats by their bits, so a NaN read
    from corrupt bytes equals itself), or the error's type and message."""
    try:
        record = read(data)  # type: ignore[operator]
    except UndecodableRecord as exc:
        return type(exc), str(exc)
    return tuple(struct.pack("<d", value) if isinstance(value, float) else value
                 for value in (getattr(record, name) for name in FIELDS))


def assert_same(data: bytes) -> None:
    assert outcome(read_index_fields, data) == outcome(decode, data)


@given(any_version)
@settings(max_examples=400)
def test_every_record_decode_reads_is_read_alike_and_without_decoding_it(
        state: InvoiceState) -> None:
    for data in (encode(state), version_1(state)):
        fields = read_index_fields(data)
        assert isinstance(fields, IndexFields)  # the light path, not the fallback
        assert_same(data)
    assert encode(state)[0] == (SUBMISSION_FORMAT_VERSION if state.has_submission
                                else FORMAT_VERSION)


@pytest.mark.parametrize("step", ["pending", "rejected", "synced"])
def test_typical_records_of_each_version(step: str) -> None:
    state = realistic(step)
    uploaded = replace(state, submitted_at=T0 + 1, attempts=2, channel="web",
                       client="uploader/3.2.1", transport_error="connect timeout")
    closed = replace(state, actions=(Action(state.invoice_id, "act-1", "close", T0 + 5, "ops",
                                            "voided", "备注"),), flags=state.flags | 64)
    for data in (version_1(state), encode(state), encode(uploaded), encode(closed)):
        assert isinstance(read_index_fields(data), IndexFields)
        assert_same(data)


@st.composite
def corrupted(draw: st.DrawFn) -> bytes:
    """A record of any version, then cut, extended, or with bytes replaced, inserted or
    removed: what a bug or a bad disk could leave."""
    state = draw(any_version)
    data = bytearray(draw(st.sampled_from([encode(state), version_1(state)])))
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(data)))
        kind = draw(st.sampled_from(["cut", "append", "replace", "insert", "delete", "flip"]))
        if kind == "cut":
            del data[at:]
        elif kind == "append":
            data += draw(st.binary(min_size=1, max_size=12))
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=4))
        elif data and at < len(data):
            if kind == "replace":
                data[at] = draw(st.integers(0, 255))
            elif kind == "delete":
                del data[at]
            else:
                data[at] ^= 1 << draw(st.integers(0, 7))
    return bytes(data)


@given(corrupted())
@settings(max_examples=2000)
@example(b"")
@example(b"\x02")
@example(b"\x04" + encode(InvoiceState("x", 0))[1:])
def test_corrupt_records_are_refused_alike(data: bytes) -> None:
    assert_same(data)


@given(st.binary(max_size=200))
def test_arbitrary_bytes_are_refused_alike(data: bytes) -> None:
    assert_same(data)


MARKED = InvoiceState(
    "INVOICE-ID", 7, flags=2 | (3 << 8), issued_at=T0, region_code="REGION",
    source_system="SOURCE", seller_tax_id="TAXID", warn_at=T0 + 900, critical_at=T0 + 3600,
    ack_status="rejected", acknowledged_at=T0 + 10, reason_code="RCODE", reason="REASON",
    seller_name="SELLER", invoice_number="NUMBER", total_amount_cents=100,
    actions=(Action("INVOICE-ID", "ACTIONID", "close", T0 + 20, "ACTOR", "AREASON", "NOTE"),),
    submitted_at=T0 + 1, attempts=1, channel="web", client="CLIENT", transport_error="ERROR")


@pytest.mark.parametrize("text", [
    "INVOICE-ID", "REGION", "SOURCE", "TAXID", "RCODE", "REASON", "SELLER", "NUMBER",
    "ACTIONID", "ACTOR", "AREASON", "NOTE", "CLIENT", "ERROR"])
def test_a_text_that_is_not_utf8_is_refused_wherever_it_is(text: str) -> None:
    """Each text of the record, the ones the indexes read and the ones they do not."""
    data = encode(MARKED)
    assert isinstance(read_index_fields(data), IndexFields)
    at = data.index(text.encode())
    bad = data[:at] + b"\xff" + data[at + 1:]
    with pytest.raises(UndecodableRecord):
        decode(bad)
    assert_same(bad)


def _patched(data: bytes, marker: bytes, offset: int, value: int) -> bytes:
    at = data.index(marker) + offset
    return data[:at] + bytes([value]) + data[at + 1:]


@pytest.mark.parametrize(("what", "corrupt"), [
    ("unknown ack status", lambda d: d[:1] + b"\x09" + d[2:]),
    ("newer version", lambda d: b"\x04" + d[1:]),
    ("trailing bytes", lambda d: d + b"\x00"),
    ("cut in the seen ids", lambda d: d[:40]),
    ("unknown action kind", lambda d: _patched(d, b"\x08\x00ACTIONID", -1, 0)),
    ("unknown channel", lambda d: _patched(d, b"\x06\x00CLIENT", -11, 9)),
])
def test_each_check_of_the_decode_is_made(what: str, corrupt: object) -> None:
    data = corrupt(encode(MARKED))  # type: ignore[operator]
    with pytest.raises(UndecodableRecord):
        decode(data)
    assert_same(data)


def test_a_record_without_invoice_id_is_refused() -> None:
    data = encode(MARKED)
    at = data.index(b"\x0a\x00INVOICE-ID")
    absent = data[:at] + b"\xff\xff" + data[at + 12:]
    with pytest.raises(UndecodableRecord, match="no invoice id"):
        decode(absent)
    assert_same(absent)
