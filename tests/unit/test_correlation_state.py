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
from pipeline.correlation import state as state_module
from pipeline.correlation.facts import Action
from pipeline.correlation.state import (
    FORMAT_VERSION,
    LATEST_VERSION,
    SEEN_LIMIT,
    UndecodableRecord,
    UnsupportedVersion,
    event_hash,
    named_cause,
    remember,
    with_cause,
    without,
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
submitted_states = st.builds(
    replace, states,
    submitted_at=times,
    attempts=st.integers(0, 2**16 - 1),
    channel=st.sampled_from([None, "leqi", "web", "third_party"]),
    client=texts,
    transport_error=texts,
)


@given(submitted_states)
def test_round_trip_with_an_upload(state: InvoiceState) -> None:
    assert decode(encode(state)) == state


def test_without_a_submission_the_record_stays_version_2() -> None:
    plain = InvoiceState("25112000000012345678", 3, issued_at=T0, region_code="110000")
    assert encode(plain)[0] == FORMAT_VERSION == 2
    submitted = replace(plain, submitted_at=T0 + 1, attempts=2, channel="leqi",
                        client="uploader/3.2.1", transport_error="connect timeout")
    data = encode(submitted)
    assert data[0] == LATEST_VERSION == 3
    assert len(data) - len(encode(plain)) == 11 + 2 + 14 + 2 + 15  # header, client, error
    assert decode(data) == submitted


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
        (b"\x04" + encode(InvoiceState("x", 0))[1:], "unsupported invoice state format version 4"),
        (b"\x03" + encode(InvoiceState("x", 0))[1:], "corrupt invoice state record"),
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
        decode(bytes([LATEST_VERSION + 1]) + encode(InvoiceState("x", 0))[1:])
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


# A record with every part of the format (version 3), as main's codec wrote it before Flag
# became plain int bits and InvoiceState a non-frozen value (docs/performance.md): the stored
# bytes, flags included, must not change.
GOLDEN = bytes.fromhex(
    "03020300000083040f000020e0a64ada41000020c1a74ada4100002064aa4ada41000010f9a64ada4102010000"
    "0000000000ffffffffffffffff14003234313132303030303030303030303030303031060031313030303005"
    "006572702d61120039313335303130304d303030313030593433050045313030311500e8b4ade4b9b0e696b9"
    "e7a88ee58fb7e4b88de7aca601242c0000000000001e00e58c97e4baace7a4bae4be8be7a791e68a80e69c89"
    "e99990e585ace58fb8ffff0100000012a74ada41010300612d3103006f70730600766f6964656401006e0102"
    "00000080eca64ada41080075702f332e322e31ffff")
GOLDEN_STATE = InvoiceState(
    invoice_id="24112000000000000001", partition=3,
    flags=with_cause(Flag.WARNED | Flag.RED | Flag.DEFERRED, "platform_unavailable"),
    issued_at=1764400000.5, region_code="110000", source_system="erp-a",
    seller_tax_id="91350100M000100Y43", warn_at=1764400900.5, critical_at=1764403600.5,
    ack_status="rejected", acknowledged_at=1764400100.25, reason_code="E1001",
    reason="购买方税号不符", seen=(1, 2**64 - 1), seller_name="北京示例科技有限公司",
    total_amount_cents=11300,
    actions=(Action("24112000000000000001", "a-1", "close", 1764400200.0, "ops", "voided", "n"),),
    submitted_at=1764400050.0, attempts=2, channel="leqi", client="up/3.2.1")


def test_the_stored_bytes_are_unchanged() -> None:
    assert GOLDEN_STATE.flags == 1155
    assert encode(GOLDEN_STATE) == GOLDEN
    assert decode(GOLDEN) == GOLDEN_STATE


@pytest.mark.parametrize("limit", [1, 3, 8192])
def test_remembered_strings_give_the_same_bytes(monkeypatch: pytest.MonkeyPatch,
                                                limit: int) -> None:
    # encode keeps the strings that repeat across records; a full cache is emptied.
    monkeypatch.setattr(state_module, "PIECES_CACHED", limit)
    monkeypatch.setattr(state_module, "_PIECES", {None: state_module._ABSENT_LENGTH})
    other = replace(GOLDEN_STATE, region_code="310000", seller_name=None, reason_code="")
    for _ in range(3):
        assert encode(GOLDEN_STATE) == GOLDEN
        assert decode(encode(other)) == other


def test_too_long_repeating_text_is_refused_every_time() -> None:
    for _ in range(2):
        with pytest.raises(ValueError, match="seller_name too long"):
            encode(InvoiceState("x", 0, seller_name="x" * 70000))


def test_evolve_copies_every_field_and_changes_only_the_named_ones() -> None:
    changed = GOLDEN_STATE.evolve(flags=Flag.CLOSED, reason=None)
    assert changed is not GOLDEN_STATE
    assert changed == replace(GOLDEN_STATE, flags=Flag.CLOSED, reason=None)
    assert GOLDEN_STATE.reason == "购买方税号不符" and GOLDEN_STATE.flags == 1155  # untouched
    assert GOLDEN_STATE.evolve() == GOLDEN_STATE
    with pytest.raises(AttributeError):
        GOLDEN_STATE.evolve(no_such_field=1)


@pytest.mark.parametrize("flags", [0, 64, 64 | 2, 0x300 | 64 | 8, 0xFFFF])
def test_clearing_a_flag_clears_the_cause_code_as_the_intflag_did(flags: int) -> None:
    # IntFlag's ~Flag.CLOSED was 0xBF (inverted within its eight members), so reopening an
    # invoice also cleared its cause code (bits 8-11); kept exactly (see docs/performance.md).
    assert without(flags, Flag.CLOSED) == flags & 0xBF
    assert named_cause(without(with_cause(flags, "source_outage"), Flag.CLOSED)) is None
