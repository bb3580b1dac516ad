"""The event contracts: what each accepts, what it refuses and why, and the wire form."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, get_args

import pytest
from pydantic import BaseModel, ValidationError

from pipeline.contracts import (
    EVENT_MODELS,
    InvoiceIssued,
    SyncAlert,
    TaxAcknowledged,
    compact_error,
)
from pipeline.contracts.samples import (
    beijing_invoice_number,
    sample_ack,
    sample_alert,
    sample_issued,
)


@dataclass(frozen=True)
class Valid:
    name: str
    event: dict[str, Any]


@dataclass(frozen=True)
class Invalid:
    name: str
    event: dict[str, Any]
    fragment: str  # must appear in the compact error


def without(event: dict[str, Any], *names: str) -> dict[str, Any]:
    return {key: value for key, value in event.items() if key not in names}


def wire(event: dict[str, Any]) -> bytes:
    return json.dumps(event, ensure_ascii=False).encode("utf-8")


VALID_ISSUED = [
    Valid("fully digital special 81", sample_issued()),
    Valid("fully digital general 82", sample_issued(invoice_type="82")),
    Valid("legacy 04 with 12-digit code", sample_issued(invoice_type="04")),
    Valid("legacy 01 with 10-digit code",
          sample_issued(invoice_type="01", invoice_code="1100241130")),
    Valid("paper digital 85 without code", sample_issued(invoice_type="85")),
    Valid("paper digital 86 with code",
          sample_issued(invoice_type="86", invoice_code="011002400111")),
    Valid("leqi 01 is a 数电专票", sample_issued(invoice_type="01", type_code_space="leqi")),
    Valid("red with negatives", sample_issued(
        red=True, original_invoice_number=beijing_invoice_number(7))),
    Valid("red all zero", sample_issued(red=True, amount="0.00", tax_amount="0.00",
                                        total_amount="0.00")),
    Valid("negative zero", sample_issued(amount="-0.00", tax_amount="113.00")),
    Valid("no buyer tax id (individual)", without(sample_issued(), "buyer_tax_id")),
    Valid("empty buyer tax id is absent", sample_issued(buyer_tax_id="")),
    Valid("buyer personal ID number", sample_issued(buyer_tax_id="11010519491231002X")),
    Valid("legacy 15-char seller id", sample_issued(seller_tax_id="110108123456789")),
    Valid("pilot USCC failing its check", sample_issued(seller_tax_id="91350100M0001TGQXM")),
    Valid("UTC timestamp", sample_issued(issued_at="2024-05-01T02:00:00Z")),
    Valid("earliest accepted time", sample_issued(issued_at="2000-01-01T08:00:00+08:00")),
    Valid("latest accepted time", sample_issued(issued_at="2100-01-01T07:59:59.999+08:00")),
    Valid("largest amount", sample_issued(amount="9999999999999999.99", tax_amount="0.00",
                                          total_amount="9999999999999999.99")),
    Valid("unknown extra fields", sample_issued(x_vendor_flag=True, nested={"a": [1, 2]})),
    Valid("defaults omitted", without(sample_issued(), "schema_version", "currency",
                                      "type_code_space", "invoice_code")),
    Valid("newer schema version", sample_issued(schema_version=2)),
]

INVALID_ISSUED = [
    Invalid("naive timestamp", sample_issued(issued_at="2024-05-01T10:00:00"),
            "issued_at: must carry a UTC offset"),
    Invalid("epoch number timestamp", sample_issued(issued_at=1714528800),
            "issued_at: must be an ISO 8601 string"),
    Invalid("issued_at in year 0 in UTC", sample_issued(issued_at="0001-01-01T00:00:00+00:01"),
            "issued_at: is not representable in UTC"),
    Invalid("issued_at in year 10000 in UTC",
            sample_issued(issued_at="9999-12-31T23:59:59-00:01"),
            "issued_at: is not representable in UTC"),
    Invalid("issued_at before 2000", sample_issued(issued_at="1999-12-31T23:59:59Z"),
            "issued_at: must lie between 2000-01-01"),
    Invalid("issued_at from 2100", sample_issued(issued_at="2100-01-01T08:00:00+08:00"),
            "issued_at: must lie between 2000-01-01"),
    Invalid("amount mismatch", sample_issued(total_amount="113.01"),
            "total_amount: must equal amount + tax_amount"),
    Invalid("red with positive amount", sample_issued(red=True, amount="100.00",
                                                      tax_amount="-13.00", total_amount="87.00"),
            "must all be <= 0 on a red invoice"),
    Invalid("blue with negative amount", sample_issued(amount="-100.00", tax_amount="213.00"),
            "must all be >= 0 on a blue invoice"),
    Invalid("amount as JSON number", sample_issued(amount=100.0),
            "amount: must be a decimal string"),
    Invalid("amount with one place", sample_issued(amount="100.0"), "amount: must be a decimal"),
    Invalid("amount with three places", sample_issued(amount="100.000"), "amount: must be"),
    Invalid("amount beyond Decimal(18,2)", sample_issued(amount="10000000000000000.00"),
            "amount: must be"),
    Invalid("amount in exponent form", sample_issued(amount="1E+2"), "amount: must be"),
    Invalid("bad region (5 digits)", sample_issued(region_code="11000"), "region_code"),
    Invalid("bad region (letters)", sample_issued(region_code="11000A"), "region_code"),
    Invalid("19-digit number", sample_issued(invoice_number="2411100000000000001"),
            "invoice_number"),
    Invalid("8-digit number on type 81", sample_issued(invoice_number="00000001"),
            "invoice_number: must be 20 digits for type 81"),
    Invalid("legacy without code", without(sample_issued(invoice_type="04"), "invoice_code"),
            "invoice_code: required for legacy type 04"),
    Invalid("legacy with 20-digit number", sample_issued(invoice_type="10",
                                                         invoice_number=beijing_invoice_number(3)),
            "invoice_number: must be 8 digits for legacy type 10"),
    Invalid("code on fully digital", sample_issued(invoice_code="011002400111"),
            "invoice_code: must be absent for fully digital type 81"),
    Invalid("11-digit code", sample_issued(invoice_type="04", invoice_code="01100240011"),
            "invoice_code"),
    Invalid("unknown national type", sample_issued(invoice_type="99"),
            "invoice_type: '99' is not a type code of the national code space"),
    Invalid("81 in the leqi space", sample_issued(type_code_space="leqi"),
            "not a type code of the leqi code space"),
    Invalid("unknown code space", sample_issued(type_code_space="local"), "type_code_space"),
    Invalid("type as number", sample_issued(invoice_type=81), "invoice_type"),
    Invalid("bad seller charset", sample_issued(seller_tax_id="91350100M000100O43"),
            "seller_tax_id: 18-character id must use"),
    Invalid("bad buyer length", sample_issued(buyer_tax_id="1234"), "buyer_tax_id"),
    Invalid("original number on blue", sample_issued(original_invoice_number="00000001"),
            "original_invoice_number: only red invoices"),
    Invalid("empty invoice_id", sample_issued(invoice_id=""), "invoice_id"),
    Invalid("65-char invoice_id", sample_issued(invoice_id="x" * 65), "invoice_id"),
    Invalid("empty event_id", sample_issued(event_id=""), "event_id"),
    Invalid("empty source_system", sample_issued(source_system=""), "source_system"),
    Invalid("red as string", sample_issued(red="false"), "red"),
    Invalid("missing red", without(sample_issued(), "red"), "red: Field required"),
    Invalid("wrong event_type", sample_issued(event_type="tax.acknowledged"), "event_type"),
    Invalid("missing event_type", without(sample_issued(), "event_type"), "event_type"),
    Invalid("lower-case currency", sample_issued(currency="cny"), "currency"),
    Invalid("schema_version as string", sample_issued(schema_version="1"), "schema_version"),
    Invalid("schema_version 0", sample_issued(schema_version=0), "schema_version"),
]


@pytest.mark.parametrize("case", VALID_ISSUED, ids=lambda case: case.name)
def test_valid_issued(case: Valid) -> None:
    event = InvoiceIssued.model_validate_json(wire(case.event))
    assert event.invoice_id == case.event["invoice_id"]
    assert event.amount + event.tax_amount == event.total_amount


@pytest.mark.parametrize("case", INVALID_ISSUED, ids=lambda case: case.name)
def test_invalid_issued(case: Invalid) -> None:
    with pytest.raises(ValidationError) as caught:
        InvoiceIssued.model_validate_json(wire(case.event))
    assert case.fragment in compact_error(caught.value)


VALID_ACKS = [
    Valid("accepted", sample_ack()),
    Valid("duplicate", sample_ack(status="duplicate")),
    Valid("rejected with reason", sample_ack(status="rejected")),
    Valid("accepted without authority_ref", without(sample_ack(), "authority_ref")),
    Valid("accepted with blank reason", sample_ack(reason_code="", reason="")),
    Valid("unknown extra fields", sample_ack(sllsh="A-1", retries=3)),
]

INVALID_ACKS = [
    Invalid("rejected without reason", without(sample_ack(status="rejected"), "reason"),
            "reason: required when status is rejected"),
    Invalid("rejected without reason_code",
            without(sample_ack(status="rejected"), "reason_code"), "reason_code: required"),
    Invalid("rejected with blank reason", sample_ack(status="rejected", reason="  "),
            "reason: required when status is rejected"),
    Invalid("unknown status", sample_ack(status="pending"), "status"),
    Invalid("acknowledged_at in year 0 in UTC",
            sample_ack(acknowledged_at="0001-01-01T00:00:00+00:01"),
            "acknowledged_at: is not representable in UTC"),
    Invalid("acknowledged_at in year 10000 in UTC",
            sample_ack(acknowledged_at="9999-12-31T23:59:59-00:01"),
            "acknowledged_at: is not representable in UTC"),
    Invalid("naive acknowledged_at", sample_ack(acknowledged_at="2024-05-01 10:02:00"),
            "acknowledged_at: must carry a UTC offset"),
    Invalid("missing invoice_id", without(sample_ack(), "invoice_id"), "invoice_id"),
    Invalid("missing source_system", without(sample_ack(), "source_system"), "source_system"),
    Invalid("wrong event_type", sample_ack(event_type="invoice.issued"), "event_type"),
]


@pytest.mark.parametrize("case", VALID_ACKS, ids=lambda case: case.name)
def test_valid_ack(case: Valid) -> None:
    ack = TaxAcknowledged.model_validate_json(wire(case.event))
    assert ack.counts_as_accepted is (case.event["status"] != "rejected")


@pytest.mark.parametrize("case", INVALID_ACKS, ids=lambda case: case.name)
def test_invalid_ack(case: Invalid) -> None:
    with pytest.raises(ValidationError) as caught:
        TaxAcknowledged.model_validate_json(wire(case.event))
    assert case.fragment in compact_error(caught.value)


DEGRADED = sample_alert(kind="degraded", severity="critical", invoice_id="", seller_tax_id="",
                        source_system="", issued_at=None, deadline_at=None, age_seconds=None,
                        scope="region_code", unsynced_count=40, due_count=45,
                        window_seconds=600.0, message="acks stopped for region 110000")

VALID_ALERTS = [
    Valid("unsynced", sample_alert()),
    Valid("rejected", sample_alert(kind="rejected", severity="critical", reason_code="E1001",
                                   reason="buyer id invalid")),
    Valid("resolved", sample_alert(kind="resolved", severity="info", latency_seconds=1200.5,
                                   resolved_alert_ids=["a-1", "a-2"])),
    Valid("orphan ack", sample_alert(kind="orphan_ack", severity="info", issued_at=None,
                                     deadline_at=None, region_code="", seller_tax_id="")),
    Valid("degraded region", DEGRADED),
    Valid("degraded recovered", {**DEGRADED, "kind": "resolved", "severity": "info",
                                 "resolved_alert_ids": ["d-1"]}),
    Valid("degraded source", {**DEGRADED, "scope": "source_system", "region_code": "",
                              "source_system": "erp-1"}),
    Valid("minimal", without(sample_alert(), "region_code", "source_system", "seller_tax_id",
                             "issued_at", "deadline_at", "age_seconds", "message",
                             "schema_version", "event_type")),
]

INVALID_ALERTS = [
    Invalid("rejected without reason", sample_alert(kind="rejected", reason_code="E1"),
            "reason: required for a rejected alert"),
    Invalid("resolved without ids", sample_alert(kind="resolved"), "resolved_alert_ids"),
    Invalid("unsynced without invoice", sample_alert(invoice_id=""),
            "invoice_id: required for a unsynced alert"),
    Invalid("orphan ack without invoice", sample_alert(kind="orphan_ack", invoice_id=""),
            "invoice_id: required for a orphan_ack alert"),
    Invalid("resolved without invoice or scope", sample_alert(
        kind="resolved", invoice_id="", resolved_alert_ids=["a"]),
            "scope: required for a resolved alert without invoice_id"),
    Invalid("degraded recovery without ids", {**DEGRADED, "kind": "resolved"},
            "resolved_alert_ids"),
    Invalid("degraded with invoice", {**DEGRADED, "invoice_id": "x"},
            'invoice_id: must be "" for a degraded alert'),
    Invalid("degraded without scope", without(DEGRADED, "scope"), "scope: required"),
    Invalid("degraded without scope value", {**DEGRADED, "region_code": ""},
            "region_code: names the region_code of scope"),
    Invalid("degraded without counts", without(DEGRADED, "due_count", "window_seconds"),
            "due_count: required for a degraded alert; window_seconds: required"),
    Invalid("unknown kind", sample_alert(kind="late"), "kind"),
    Invalid("unknown severity", sample_alert(severity="page"), "severity"),
    Invalid("naive detected_at", sample_alert(detected_at="2024-05-01T10:15:05"),
            "detected_at: must carry a UTC offset"),
    Invalid("message not a string", sample_alert(message=["a"]), "message"),
    Invalid("negative count", {**DEGRADED, "unsynced_count": -1}, "unsynced_count"),
    Invalid("zero window", {**DEGRADED, "window_seconds": 0}, "window_seconds"),
]


@pytest.mark.parametrize("case", VALID_ALERTS, ids=lambda case: case.name)
def test_valid_alert(case: Valid) -> None:
    alert = SyncAlert.model_validate_json(wire(case.event))
    assert alert.kind == case.event["kind"]
    assert alert.event_type == "invoice.sync.alert"


@pytest.mark.parametrize("case", INVALID_ALERTS, ids=lambda case: case.name)
def test_invalid_alert(case: Invalid) -> None:
    with pytest.raises(ValidationError) as caught:
        SyncAlert.model_validate_json(wire(case.event))
    assert case.fragment in compact_error(caught.value)


@dataclass(frozen=True)
class RoundTrip:
    model: type[BaseModel]
    event: dict[str, Any] = field(hash=False)


ROUND_TRIPS = [
    RoundTrip(InvoiceIssued, sample_issued()),
    RoundTrip(InvoiceIssued, sample_issued(invoice_type="04", red=True)),
    RoundTrip(TaxAcknowledged, sample_ack(status="rejected")),
    RoundTrip(SyncAlert, sample_alert()),
    RoundTrip(SyncAlert, DEGRADED),
]


@pytest.mark.parametrize("case", ROUND_TRIPS, ids=lambda case: case.model.__name__)
def test_wire_round_trip(case: RoundTrip) -> None:
    event = case.model.model_validate_json(wire(case.event))
    assert case.model.model_validate_json(event.model_dump_json()) == event


def test_money_is_decimal_inside_and_two_place_string_on_the_wire() -> None:
    event = InvoiceIssued.model_validate(sample_issued(red=True))
    assert event.amount == Decimal("-100.00")
    assert isinstance(event.total_amount, Decimal)
    payload = json.loads(event.to_wire())
    assert (payload["amount"], payload["tax_amount"], payload["total_amount"]) == (
        "-100.00", "-13.00", "-113.00")


def test_negative_zero_is_written_as_zero() -> None:
    event = InvoiceIssued.model_validate(sample_issued(amount="-0.00", tax_amount="113.00"))
    assert json.loads(event.to_wire())["amount"] == "0.00"


@pytest.mark.parametrize(("given", "stored"), [
    (Decimal("100"), "100.00"), (Decimal("99.9"), "99.90"), (Decimal("1.10"), "1.10")])
def test_python_decimals_are_normalised_to_cents(given: Decimal, stored: str) -> None:
    event = InvoiceIssued.model_validate(
        sample_issued(amount=given, tax_amount=Decimal("0"), total_amount=given))
    assert json.loads(event.to_wire())["amount"] == stored


@pytest.mark.parametrize("amount", [Decimal("1.001"), Decimal("NaN"), Decimal("Infinity"),
                                    Decimal("1E+16"), Decimal("1E+40"), 100, 1.5, True])
def test_python_money_must_be_exact_cents(amount: object) -> None:
    with pytest.raises(ValidationError, match="amount"):
        InvoiceIssued.model_validate(sample_issued(amount=amount))


def test_timestamps_keep_their_offset_on_the_wire() -> None:
    event = InvoiceIssued.model_validate(sample_issued())
    beijing = timezone(timedelta(hours=8))
    assert event.issued_at == datetime(2024, 5, 1, 2, 0, tzinfo=UTC)
    assert event.issued_at.utcoffset() == beijing.utcoffset(None)
    assert json.loads(event.to_wire())["issued_at"] == "2024-05-01T10:00:00+08:00"
    alert = SyncAlert.model_validate(sample_alert(detected_at=datetime(2024, 5, 1, tzinfo=UTC)))
    assert json.loads(alert.to_wire())["detected_at"] == "2024-05-01T00:00:00+00:00"


def test_python_naive_datetime_is_refused() -> None:
    with pytest.raises(ValidationError, match="must carry a UTC offset"):
        InvoiceIssued.model_validate(sample_issued(issued_at=datetime(2024, 5, 1, 10)))


@pytest.mark.parametrize(("message", "stored"), [
    ("plain", "plain"),
    ("rejected:\n  E1001\tbuyer id", "rejected: E1001 buyer id"),
    ("x" * 1500, "x" * 999 + "…"),
])
def test_alert_message_is_folded_onto_one_bounded_line(message: str, stored: str) -> None:
    assert SyncAlert.model_validate(sample_alert(message=message)).message == stored


def test_unknown_fields_are_dropped_not_kept() -> None:
    event = InvoiceIssued.model_validate(sample_issued(x_vendor_flag=True))
    assert "x_vendor_flag" not in json.loads(event.to_wire())


def test_events_are_frozen() -> None:
    event = InvoiceIssued.model_validate(sample_issued())
    with pytest.raises(ValidationError):
        event.amount = Decimal("1.00")


@pytest.mark.parametrize(("overrides", "expected"), [
    ({}, []),
    ({"seller_tax_id": "91350100M0001TGQXM"}, ["seller_tax_id_check_digit"]),
    ({"buyer_tax_id": "91350100M0001TGQXM"}, ["buyer_tax_id_check_digit"]),
    ({"seller_tax_id": "91350100M0001TGQXM", "buyer_tax_id": "91350100M000100Y44"},
     ["seller_tax_id_check_digit", "buyer_tax_id_check_digit"]),
    ({"buyer_tax_id": None}, []),
    ({"buyer_tax_id": "11010519491231002X"}, []),
])
def test_check_digit_warnings(overrides: dict[str, Any], expected: list[str]) -> None:
    assert InvoiceIssued.model_validate(sample_issued(**overrides)).warnings() == expected


@pytest.mark.parametrize(("invoice_type", "space", "national", "digital"), [
    ("81", "national", "81", True), ("82", "national", "82", True),
    ("01", "leqi", "81", True), ("02", "leqi", "82", True),
    ("01", "national", "01", False), ("85", "national", "85", False),
])
def test_type_code_space_normalises(invoice_type: str, space: str, national: str,
                                    digital: bool) -> None:
    event = InvoiceIssued.model_validate(
        sample_issued(invoice_type=invoice_type, type_code_space=space))
    assert (event.national_invoice_type, event.is_fully_digital) == (national, digital)


def test_event_models_are_keyed_by_event_type() -> None:
    for event_type, model in EVENT_MODELS.items():
        assert get_args(model.model_fields["event_type"].annotation) == (event_type,)


def test_compact_error_is_bounded_and_value_free() -> None:
    secret = "91350100M000100O43"
    event = sample_issued(seller_tax_id=secret, buyer_name="", seller_name="x" * 400,
                          region_code="", event_id="", invoice_id="")
    with pytest.raises(ValidationError) as caught:
        InvoiceIssued.model_validate_json(wire(event))
    text = compact_error(caught.value, limit=120)
    assert len(text) == 120 and text.endswith("…")
    assert secret not in compact_error(caught.value, limit=10_000)


def test_samples_are_distinct_per_seq() -> None:
    numbers = {sample_issued(seq)["invoice_number"] for seq in range(1, 50)}
    assert len(numbers) == 49
    assert all(number.startswith("24111") and len(number) == 20 for number in numbers)
