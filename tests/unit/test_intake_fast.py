"""The fast intake gives exactly the contract's verdict and parsed event (a differential test).

``intake.classify`` (fast path, contract on anything else) against
``intake.classify_by_contract`` (pydantic alone) on generated valid issued events of every shape
and on corrupted ones: fields removed or retyped, odd decimals and broken sums, odd timestamps
and offsets, invalid UTF-8, non-object JSON, duplicate keys, huge numbers. "Same" means the same
verdict, reason and message, and for an accepted event the same field values down to their
types and reprs (``Decimal('100.00')``, ``TzInfo(28800)``), the same set of fields given, the
same warnings and the same wire form.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline import intake, intake_fast
from pipeline.contracts import InvoiceIssued
from pipeline.contracts.samples import beijing_invoice_number
from pipeline.intake import Accepted, EventKind, classify, classify_by_contract
from pipeline.taxpayer import USCC_ALPHABET, uscc_check_char

EXAMPLES = settings(max_examples=200, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def assert_same(kind: EventKind, key: bytes | None, value: bytes | None) -> None:
    fast, reference = classify(kind, key, value), classify_by_contract(kind, key, value)
    assert type(fast) is type(reference), (fast, reference)
    if not isinstance(fast, Accepted):
        assert fast == reference
        return
    assert isinstance(reference, Accepted)
    a, b = fast.event, reference.event
    assert type(a) is type(b)
    assert repr(a.__dict__) == repr(b.__dict__)
    assert [type(v) for v in a.__dict__.values()] == [type(v) for v in b.__dict__.values()]
    assert a.model_fields_set == b.model_fields_set
    assert (a.__pydantic_extra__, a.__pydantic_private__) == (
        b.__pydantic_extra__, b.__pydantic_private__)
    assert a == b and a.to_wire() == b.to_wire()
    assert fast.warnings == reference.warnings == tuple(b.warnings())


# --- valid events in canonical form (the fast path must take every one) ---------------------

names = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1,
                max_size=40)
uscc_bodies = st.text(st.sampled_from(USCC_ALPHABET), min_size=17, max_size=17)
valid_usccs = uscc_bodies.map(lambda body: body + uscc_check_char(body))
taxpayer_ids = st.one_of(
    valid_usccs,
    st.text(st.sampled_from(USCC_ALPHABET), min_size=18, max_size=18),  # mostly a warning
    st.just("11010519491231002X"),  # a personal ID number
    st.text(st.sampled_from("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"), min_size=15, max_size=15),
    st.text(st.sampled_from("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"), min_size=20, max_size=20),
)
offsets = st.integers(-19 * 60 - 59, 19 * 60 + 59).map(lambda m: timedelta(minutes=m))


@st.composite
def canonical_timestamps(draw: st.DrawFn) -> str:
    # The contract's range is in UTC ([2000, 2100)): draw the instant, then write it in local time.
    offset = draw(offsets)
    moment = draw(st.datetimes(datetime(2000, 1, 1), datetime(2099, 12, 31, 23, 59, 59))) + offset
    digits = draw(st.integers(0, 6))
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if digits:
        text += "." + f"{moment.microsecond:06d}"[:digits]
    if offset == timedelta(0) and draw(st.booleans()):
        return text + "Z"
    minutes = int(offset.total_seconds()) // 60
    sign = "-" if minutes < 0 or (minutes == 0 and draw(st.booleans())) else "+"
    return f"{text}{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def money(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    return f"{sign}{abs(cents) // 100}.{abs(cents) % 100:02d}"


@st.composite
def valid_issued(draw: st.DrawFn) -> dict[str, Any]:
    space, kind = draw(st.sampled_from([("national", t) for t in
                                        ("81", "82", "85", "86", "01", "04", "08", "10")]
                                       + [("leqi", "01"), ("leqi", "02")]))
    legacy = space == "national" and kind in ("01", "04", "08", "10")
    seq = draw(st.integers(0, 10**8 - 1))
    number = f"{seq:08d}" if legacy else beijing_invoice_number(seq)
    red = draw(st.booleans())
    sign = -1 if red else 1
    amount, tax = draw(st.integers(0, 10**15)), draw(st.integers(0, 10**14))
    event: dict[str, Any] = {
        "schema_version": draw(st.integers(1, 3)), "event_type": "invoice.issued",
        "event_id": draw(names), "invoice_id": draw(names),
        "invoice_number": number, "invoice_type": kind, "type_code_space": space, "red": red,
        "seller_tax_id": draw(taxpayer_ids), "seller_name": draw(names),
        "buyer_tax_id": draw(st.one_of(taxpayer_ids, st.just(""), st.none())),
        "buyer_name": draw(names), "region_code": draw(st.from_regex(r"[0-9]{6}", fullmatch=True)),
        "source_system": draw(names), "issued_at": draw(canonical_timestamps()),
        "amount": money(sign * amount), "tax_amount": money(sign * tax),
        "total_amount": money(sign * (amount + tax)),
        "currency": draw(st.sampled_from(["CNY", "USD", "EUR"])),
    }
    if legacy:
        event["invoice_code"] = draw(st.from_regex(r"[0-9]{10}|[0-9]{12}", fullmatch=True))
    elif space == "national" and kind in ("85", "86") and draw(st.booleans()):
        event["invoice_code"] = draw(st.from_regex(r"[0-9]{12}", fullmatch=True))
    if red and draw(st.booleans()):
        event["original_invoice_number"] = beijing_invoice_number(seq + 1)
    for optional in draw(st.sets(st.sampled_from(
            ["schema_version", "type_code_space", "currency", "buyer_tax_id"]))):
        if optional != "type_code_space" or space == "national":
            event.pop(optional, None)
    if draw(st.booleans()):
        event["added_by_a_newer_producer"] = draw(st.integers(0, 10))
    return event


@st.composite
def valid_acks(draw: st.DrawFn) -> dict[str, Any]:
    status = draw(st.sampled_from(["accepted", "rejected", "duplicate"]))
    event: dict[str, Any] = {
        "schema_version": draw(st.integers(1, 3)), "event_type": "tax.acknowledged",
        "event_id": draw(names), "invoice_id": draw(names), "status": status,
        "acknowledged_at": draw(canonical_timestamps()),
        "authority_ref": draw(st.one_of(st.none(), st.text(max_size=128))),
        "source_system": draw(names),
    }
    if status == "rejected" or draw(st.booleans()):
        event["reason_code"] = draw(st.text(min_size=1, max_size=64).filter(str.strip))
        event["reason"] = draw(st.text(min_size=1, max_size=200).filter(str.strip))
    for optional in draw(st.sets(st.sampled_from(["schema_version", "authority_ref"]))):
        event.pop(optional)
    return event


def record(event: dict[str, Any]) -> tuple[bytes, bytes]:
    return event["invoice_id"].encode("utf-8", "surrogatepass"), orjson.dumps(event)


@EXAMPLES
@given(valid_issued())
def test_every_canonical_valid_issued_event_takes_the_fast_path(event: dict[str, Any]) -> None:
    key, value = record(event)
    assert intake_fast.issued(value) is not None
    assert isinstance(classify("issued", key, value), Accepted)
    assert_same("issued", key, value)


# --- corrupted events: the same verdict as the contract ----------------------------------------

json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=False),
    st.text(max_size=30), st.sampled_from([10**19, 12345678901234567890, -1, 0, 1.0, 1e300]))
json_values = st.recursive(json_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner, max_size=3)),
    max_leaves=6)
odd_timestamps = st.one_of(st.sampled_from([
    "0001-01-01T00:00:00+00:01", "0001-01-01T00:00:00-00:01", "9999-12-31T23:59:59-00:01",
    "9999-12-31T23:59:59+00:01", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59.999999Z",
    "2024-05-01T10:00:00", "2024-05-01 10:00:00+08:00", "2024-05-01t10:00:00z",
    "2024-05-01T10:00:00+0800", "2024-05-01T10:00:00+08", "2024-05-01T10:00:00+23:59",
    "2024-05-01T10:00:00+24:00", "2024-05-01T10:00:60+08:00", "2024-05-01T24:00:00+08:00",
    "2024-02-30T10:00:00+08:00", "2024-05-01T10:00:00.1234567+08:00", "2024-05-01",
    "1714528800", "1714528800.5", "", " 2024-05-01T10:00:00+08:00",
    "\uff12\uff10\uff12\uff14-05-01T10:00:00Z",
    "2024-05-01T10:00:00+08:00\n", "2024-05-01T10:00+08:00", "+2024-05-01T10:00:00Z",
    "1999-12-31T23:59:59.999999Z", "2000-01-01T00:00:00Z", "2000-01-01T08:00:00+08:00",
    "2000-01-01T07:59:59+08:00", "1999-12-31T19:00:00-05:00", "1999-12-31T18:59:59-05:00",
    "2099-12-31T23:59:59.999999Z", "2100-01-01T00:00:00Z", "2100-01-01T07:59:59+08:00",
    "2100-01-01T08:00:00+08:00", "2099-12-31T19:00:00-05:00", "1000-01-01T00:00:00Z",
    "8999-12-31T23:59:59Z"]),
    canonical_timestamps(), st.text(max_size=30))
odd_money = st.one_of(st.sampled_from([
    "100", "100.0", "100.000", "1e2", " 100.00", "100.00 ", "-0.00", "+1.00",
    "\u0661\u0660\u0660.\u0660\u0660",
    "9999999999999999.99", "10000000000000000.00", "-9999999999999999.99", "0.00", "NaN",
    ".50", "00.00", "100,00"]), st.integers(), st.floats(allow_nan=False), st.text(max_size=20))
odd_ids = st.one_of(taxpayer_ids, taxpayer_ids.map(str.lower), st.text(max_size=25),
                    st.sampled_from(["", "12345678901234567890", "123456789012345"]),
                    st.integers(10**19, 10**20), json_scalars)
FIELD_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "issued_at": odd_timestamps, "acknowledged_at": odd_timestamps,
    "amount": odd_money, "tax_amount": odd_money, "total_amount": odd_money,
    "seller_tax_id": odd_ids, "buyer_tax_id": odd_ids,
    "invoice_number": st.one_of(st.from_regex(r"[0-9]{8}|[0-9]{20}|[0-9]{9}", fullmatch=True),
                                st.integers(0, 10**21)),
    "invoice_code": st.one_of(st.none(), st.from_regex(r"[0-9]{10,12}", fullmatch=True)),
    "invoice_type": st.sampled_from(["81", "82", "85", "86", "01", "02", "04", "99", "8", 81]),
    "type_code_space": st.sampled_from(["national", "leqi", "NATIONAL", None]),
    "red": st.one_of(st.booleans(), st.sampled_from([0, 1, "true", None])),
    "schema_version": st.one_of(st.sampled_from([0, -1, 1, 2**63, 2**64 + 1, 1.0, "1", True]),
                                st.integers(-2, 2**66)),
    "status": st.sampled_from(["accepted", "rejected", "duplicate", "Accepted", 1]),
    "reason_code": st.one_of(st.none(), st.text(max_size=70)),
    "reason": st.one_of(st.none(), st.just(" "), st.text(max_size=10)),
    "authority_ref": st.one_of(st.none(), st.text(max_size=5)),
    "region_code": st.one_of(st.from_regex(r"[0-9]{5,7}", fullmatch=True),
                             st.just("\uff11\uff11\uff10\uff10\uff10\uff10"),
                             st.integers(0, 999999)),
    "currency": st.sampled_from(["CNY", "cny", "CN", "ÄBC", None]),
    "original_invoice_number": st.one_of(st.none(), st.from_regex(r"[0-9]{8}|[0-9]{20}",
                                                                   fullmatch=True)),
    "invoice_id": st.one_of(st.text(max_size=70), st.just("\ud800")),
}
# Lengths at and just past each limit, and empty, ahead of any other text.
for _field, _limit in (("event_id", 128), ("invoice_id", 64), ("seller_name", 300),
                       ("buyer_name", 300), ("source_system", 128), ("reason_code", 64),
                       ("reason", 4000), ("authority_ref", 128)):
    FIELD_VALUES[_field] = st.one_of(st.sampled_from(["", "x" * _limit, "x" * (_limit + 1)]),
                                     FIELD_VALUES.get(_field, st.text(max_size=5)))


@st.composite
def corrupted(draw: st.DrawFn, events: st.SearchStrategy[dict[str, Any]]) -> dict[str, Any]:
    event = draw(events)
    for _ in range(draw(st.integers(1, 3))):
        field = draw(st.sampled_from(sorted(set(event) | set(FIELD_VALUES))))
        action = draw(st.sampled_from(["remove", "retype", "odd"]))
        if action == "remove":
            event.pop(field, None)
        elif action == "retype":
            event[field] = draw(json_values)
        else:
            event[field] = draw(FIELD_VALUES.get(field, json_values))
    return event


def wire(event: Any) -> bytes:
    try:
        return orjson.dumps(event)
    except TypeError:  # ints beyond 64 bits, lone surrogates: JSON text can still carry them
        return json.dumps(event).encode()


keys = st.one_of(st.none(), st.just(b"\xff"), st.binary(max_size=8))


@EXAMPLES
@given(corrupted(valid_issued()), st.booleans(), keys)
def test_corrupted_issued_events_get_the_contract_verdict(
        event: dict[str, Any], right_key: bool, other_key: bytes | None) -> None:
    key = str(event.get("invoice_id")).encode("utf-8", "surrogatepass") if right_key else other_key
    assert_same("issued", key, wire(event))


ACK_ONLY = ("status", "reason_code", "reason", "acknowledged_at", "authority_ref")


@pytest.mark.parametrize("field", sorted(set(FIELD_VALUES) - set(ACK_ONLY)))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_each_field_at_and_past_its_limits_gets_the_contract_verdict(
        field: str, data: st.DataObject) -> None:
    event = data.draw(valid_issued())
    event[field] = data.draw(FIELD_VALUES[field])
    key = str(event.get("invoice_id")).encode("utf-8", "surrogatepass")
    assert_same("issued", key, wire(event))


@st.composite
def mangled_bytes(draw: st.DrawFn) -> bytes:
    """A valid value damaged as bytes: cut, a byte replaced, invalid UTF-8, BOM, a duplicate
    key appended, wrapped in an array, or padded with whitespace."""
    event = draw(st.one_of(valid_issued(), valid_acks()))
    value = orjson.dumps(event)
    how = draw(st.sampled_from(["cut", "byte", "utf8", "bom", "dup", "array", "space", "nan",
                                "surrogate", "bignum"]))
    if how == "cut":
        return value[: draw(st.integers(1, len(value) - 1))]
    if how == "byte":
        at = draw(st.integers(0, len(value) - 1))
        return value[:at] + bytes([draw(st.integers(0, 255))]) + value[at + 1:]
    if how == "utf8":
        return value.replace(b'"event_id":"', b'"event_id":"\xff\xfe', 1)
    if how == "bom":
        return b"\xef\xbb\xbf" + value
    if how == "dup":
        field = draw(st.sampled_from(sorted(event)))
        extra = wire({field: draw(FIELD_VALUES.get(field, json_values))})
        return value[:-1] + b"," + extra[1:] if draw(st.booleans()) else extra[:-1] + b"," + \
            value[1:]
    if how == "array":
        return b"[" + value + b"]"
    if how == "space":
        return b" \n\t" + value + b"\r\n "
    if how == "nan":
        return value.replace(b'"schema_version":', b'"schema_version":NaN,"x":', 1)
    if how == "surrogate":
        return value.replace(b'"event_id":"', b'"event_id":"\\ud800', 1)
    return value.replace(b'"schema_version":', b'"schema_version":123456789012345678901234,'
                         b'"y":', 1)


@EXAMPLES
@given(mangled_bytes(), st.sampled_from(["issued", "acknowledged"]))
def test_mangled_bytes_get_the_contract_verdict(value: bytes, kind: EventKind) -> None:
    key = orjson.loads(value)["invoice_id"].encode() if _is_object(value) else b"k"
    assert_same(kind, key, value)


def _is_object(value: bytes) -> bool:
    try:
        loaded = orjson.loads(value)
    except orjson.JSONDecodeError:
        return False
    return isinstance(loaded, dict) and isinstance(loaded.get("invoice_id"), str)


@EXAMPLES
@given(st.one_of(json_values.map(wire), st.binary(max_size=64)),
       st.sampled_from(["issued", "acknowledged"]))
def test_any_json_or_bytes_get_the_contract_verdict(value: bytes, kind: EventKind) -> None:
    assert_same(kind, b"k", value)


def test_the_fast_path_knows_the_contracts_fields() -> None:
    assert intake_fast.ENABLED
    assert tuple(InvoiceIssued.model_fields) == intake_fast.ISSUED_FIELDS


def test_check_digit_warning_and_red_negatives_on_the_fast_path() -> None:
    body = "91350100M0001TGQX"
    wrong = next(c for c in USCC_ALPHABET if c != uscc_check_char(body))
    event = orjson.loads(record(valid_issued_example())[1])
    event.update(seller_tax_id=body + wrong, red=True, amount="-100.00", tax_amount="-0.00",
                 total_amount="-100.00")
    value = orjson.dumps(event)
    fast = intake_fast.issued(value)
    assert fast is not None and fast[1] == ("seller_tax_id_check_digit",)
    assert fast[0].tax_amount == Decimal("0.00") and str(fast[0].tax_amount) == "0.00"
    assert_same("issued", event["invoice_id"].encode(), value)


def test_timestamps_outside_the_fast_range_are_left_to_the_contract() -> None:
    event = valid_issued_example()
    for stamp in ("0001-01-01T00:00:00+00:01", "9999-12-31T23:59:59-00:01",
                  "0999-01-01T00:00:00Z", "9000-01-01T00:00:00Z", "1999-12-31T23:59:59Z",
                  "2000-01-01T07:59:59+08:00", "2100-01-01T00:00:00Z",
                  "2000-01-01T00:00:00+00:01"):
        value = orjson.dumps({**event, "issued_at": stamp})
        assert intake_fast.issued(value) is None
        assert_same("issued", event["invoice_id"].encode(), value)
    for stamp in ("2000-01-01T19:59:00+19:59", "2000-01-01T00:00:00Z",
                  "2100-01-01T07:59:59.999999+08:00"):
        inside = orjson.dumps({**event, "issued_at": stamp})
        assert intake_fast.issued(inside) is not None
        assert_same("issued", event["invoice_id"].encode(), inside)


def valid_issued_example() -> dict[str, Any]:
    from pipeline.contracts.samples import sample_issued
    return sample_issued(issued_at=datetime(2024, 5, 1, tzinfo=UTC).isoformat())


def test_a_fast_path_failure_falls_back_to_the_contract(monkeypatch: Any) -> None:
    def broken(value: bytes) -> None:
        raise RuntimeError("bug")
    monkeypatch.setattr(intake_fast, "issued", broken)
    event = valid_issued_example()
    result = intake.classify("issued", event["invoice_id"].encode(), orjson.dumps(event))
    assert isinstance(result, Accepted)


def test_huge_values_get_the_contract_verdict() -> None:
    event = valid_issued_example()
    key = event["invoice_id"].encode()
    for field, value in (("seller_name", "名" * 300_000), ("buyer_name", "x" * 300),
                         ("amount", "9" * 200_000 + ".00"), ("event_id", "e" * 900_000),
                         ("schema_version", 10**400), ("added_by_a_newer_producer", "z" * 2**20)):
        assert_same("issued", key, wire({**event, field: value}))
