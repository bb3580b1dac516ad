"""The per-invoice record: binary codec round trip, size, and corrupt input."""

from __future__ import annotations

import uuid
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.correlation import (
    Ack,
    Flag,
    InvoiceState,
    Issued,
    Thresholds,
    decode,
    encode,
    on_ack,
    on_due,
    on_issued,
)
from pipeline.correlation.facts import Action
from pipeline.correlation.state import (
    FORMAT_VERSION,
    SEEN_LIMIT,
    UndecodableRecord,
    UnsupportedVersion,
    event_hash,
    remember,
)

T0 = 1_764_400_000.123
SLA = Thresholds(900.0, 3600.0)

times = st.none() | st.floats(allow_nan=False)
texts = st.none() | st.text(max_size=300)

states = st.builds(
    InvoiceState,
    invoice_id=st.text(max_size=40),
    partition=st.integers(0, 2**32 - 1),
    flags=st.integers(0, 63).map(Flag),
    issued_at=times,
    region_code=texts,
    source_system=texts,
    seller_tax_id=texts,
    warn_at=times,
    critical_at=times,
    ack_status=st.sampled_from([None, "accepted", "rejected", "duplicate"]),
    acknowledged_at=times,
    reason_code=texts,
    reason=texts,
    held_since=times,
    resolved_at=times,
    expires_at=times,
    seen=st.lists(st.integers(0, 2**64 - 1), max_size=SEEN_LIMIT).map(tuple),
    seller_name=texts,
    invoice_number=texts,
    total_amount_cents=st.none() | st.integers(-(2**63), 2**63 - 1),
    actions=st.lists(st.builds(
        Action, invoice_id=st.just(""), action_id=st.text(max_size=40),
        kind=st.sampled_from(["close", "reopen"]), at=st.floats(allow_nan=False),
        actor=st.text(max_size=64), reason=texts, note=texts), max_size=8).map(tuple),
).map(lambda s: replace(s, actions=tuple(replace(a, invoice_id=s.invoice_id)
                                          for a in s.actions)))  # stored once per record


@given(states)
def test_round_trip(state: InvoiceState) -> None:
    assert decode(encode(state)) == state


def realistic(step: str) -> InvoiceState:
    invoice_id = "25112000000012345678"
    issued = Issued(invoice_id, str(uuid.uuid4()), T0, "110000", "erp-a", "91350100M000100Y43",
                    seller_name="北京示例科技有限公司", invoice_number=invoice_id,
                    total_amount_cents=11300)
    state, _ = on_issued(None, issued, now=T0 + 1.5, sla=SLA, partition=11)
    if step == "pending":
        return state  # type: ignore[return-value]
    state, _ = on_due(state, now=T0 + 3700.25, watermark=T0 + 3700.25)  # type: ignore[arg-type]
    rejection = Ack(invoice_id, str(uuid.uuid4()), "rejected", T0 + 3701.5, "E1022", "税号不符")
    state, _ = on_ack(state, rejection, now=T0 + 3702.5, partition=11)
    if step == "rejected":
        return state  # type: ignore[return-value]
    for _ in range(3):
        accepted = Ack(invoice_id, str(uuid.uuid4()), "accepted", T0 + 3800.75, None, None)
        state, _ = on_ack(state, accepted, now=T0 + 3801.5, partition=11)
    return state  # type: ignore[return-value]


@pytest.mark.parametrize("step", ["pending", "rejected", "synced"])
def test_typical_records_are_small(step: str) -> None:
    state = realistic(step)
    data = encode(state)
    assert decode(data) == state
    assert len(data) < 200, len(data)


def test_synced_record_shape() -> None:
    state = realistic("synced")
    assert state.is_synced
    assert len(state.seen) == SEEN_LIMIT
    assert state.flags == Flag.WARNED | Flag.ESCALATED | Flag.REJECTION_ALERTED | Flag.RESOLVED


def test_worst_case_record_is_bounded() -> None:
    state = InvoiceState(
        invoice_id="9" * 32, partition=1, flags=Flag(63), issued_at=T0, region_code="110000",
        source_system="s" * 64, seller_tax_id="9" * 20, warn_at=T0, critical_at=T0,
        ack_status="rejected", acknowledged_at=T0, reason_code="c" * 32, reason="理" * 200,
        held_since=T0, resolved_at=T0, expires_at=T0, seen=(1, 2, 3, 4),
    )  # fmt: skip
    assert len(encode(state)) < 1024


def test_format_starts_with_version_2() -> None:
    assert encode(InvoiceState("x", 0))[0] == 2


def test_version_1_records_are_still_read() -> None:
    """A version-1 record (written before seller name, amount and actions) is the same state
    with those fields absent: byte layout of v1 = v2 without the appended part."""
    state = realistic("rejected")
    legacy = replace(state, seller_name=None, invoice_number=None, total_amount_cents=None)
    v2 = encode(legacy)
    v1 = b"\x01" + v2[1:-6]  # v2 appends: extras 0, two absent strings, no actions
    assert v2[-6:] == b"\x00\xff\xff\xff\xff\x00"
    assert decode(v1) == legacy


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "unsupported invoice state format version None"),
        (b"\x03" + encode(InvoiceState("x", 0))[1:], "unsupported invoice state format version 3"),
        (encode(InvoiceState("x", 0))[:-3], "corrupt"),
        (encode(InvoiceState("x", 0)) + b"\x00", "trailing bytes"),
        (b"\x01\x09" + encode(InvoiceState("x", 0))[2:], "corrupt"),
        (b"[1, 2]", "unsupported"),
    ],
)
def test_decode_rejects_bad_data(data: bytes, message: str) -> None:
    with pytest.raises(UndecodableRecord, match=message):
        decode(data)


def test_a_newer_version_is_told_apart_from_corruption() -> None:
    with pytest.raises(UnsupportedVersion):
        decode(bytes([FORMAT_VERSION + 1]) + encode(InvoiceState("x", 0))[1:])
    with pytest.raises(UndecodableRecord) as corrupt:
        decode(encode(InvoiceState("x", 0))[:-3])
    assert not isinstance(corrupt.value, UnsupportedVersion)


def test_too_long_text_is_refused() -> None:
    with pytest.raises(ValueError, match="reason too long"):
        encode(InvoiceState("x", 0, reason="x" * 70000))


def test_seen_keeps_the_most_recent() -> None:
    seen: tuple[int, ...] = ()
    for n in range(SEEN_LIMIT + 2):
        seen = remember(seen, n)
    assert seen == tuple(range(2, SEEN_LIMIT + 2))


def test_event_hash_is_stable_and_64_bit() -> None:
    assert event_hash("a") == event_hash("a") != event_hash("b")
    assert 0 <= event_hash(str(uuid.uuid4())) < 2**64
