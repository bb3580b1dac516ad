"""The intake front door: every record becomes Accepted or Rejected, never an exception."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline import intake_fast
from pipeline.contracts import InvoiceIssued, TaxAcknowledged
from pipeline.contracts.samples import sample_ack, sample_issued, sample_submitted
from pipeline.intake import MAX_VALUE_BYTES, Accepted, EventKind, Rejected, classify


def wire(event: dict[str, Any]) -> bytes:
    return json.dumps(event, ensure_ascii=False).encode("utf-8")


ISSUED = sample_issued()
KEY = ISSUED["invoice_id"].encode()
ACK = sample_ack(ISSUED["invoice_id"])
SUBMITTED = sample_submitted(ISSUED["invoice_id"])
BASE = {"issued": ISSUED, "submitted": SUBMITTED, "acknowledged": ACK}


def test_valid_issued_is_accepted() -> None:
    result = classify("issued", KEY, wire(ISSUED))
    assert isinstance(result, Accepted)
    assert isinstance(result.event, InvoiceIssued)
    assert result.event.invoice_id == ISSUED["invoice_id"]
    assert result.warnings == ()


def test_valid_ack_is_accepted() -> None:
    result = classify("acknowledged", KEY, wire(ACK))
    assert isinstance(result, Accepted)
    assert isinstance(result.event, TaxAcknowledged)


def test_check_digit_warning_travels_with_the_accepted_event() -> None:
    issued = sample_issued(seller_tax_id="91350100M0001TGQXM")
    result = classify("issued", KEY, wire(issued))
    assert isinstance(result, Accepted)
    assert result.warnings == ("seller_tax_id_check_digit",)


def test_non_ascii_key_matching_invoice_id() -> None:
    issued = sample_issued(invoice_id="发票-1")
    assert isinstance(classify("issued", "发票-1".encode(), wire(issued)), Accepted)


@dataclass(frozen=True)
class Case:
    name: str
    kind: EventKind
    key: bytes | None
    value: bytes | None
    reason: str
    fragment: str


CASES = [
    Case("null value (tombstone)", "issued", KEY, None, "not_json", "empty"),
    Case("empty value", "issued", KEY, b"", "not_json", "empty"),
    Case("not JSON", "issued", KEY, b"invoice 1", "not_json", "Invalid JSON"),
    Case("truncated JSON", "issued", KEY, wire(ISSUED)[:-1], "not_json", "Invalid JSON"),
    Case("not UTF-8", "issued", KEY, b'{"invoice_id": "\xff"}', "not_json", "Invalid JSON"),
    Case("UTF-16", "issued", KEY, json.dumps(ISSUED).encode("utf-16"), "not_json",
         "Invalid JSON"),
    Case("JSON array", "issued", KEY, b"[1, 2]", "not_json", "not a JSON object"),
    Case("JSON string", "acknowledged", KEY, b'"accepted"', "not_json", "not a JSON object"),
    Case("JSON null", "issued", KEY, b"null", "not_json", "not a JSON object"),
    Case("deeply nested", "issued", KEY, b"[" * 5000, "not_json", "Invalid JSON"),
    Case("empty object", "issued", KEY, b"{}", "contract", "invoice_id: Field required"),
    Case("ack on the issued topic", "issued", KEY, wire(ACK), "contract", "event_type"),
    Case("issued on the ack topic", "acknowledged", KEY, wire(ISSUED), "contract", "status"),
    Case("naive timestamp", "issued", KEY, wire(sample_issued(issued_at="2024-05-01T10:00:00")),
         "contract", "issued_at: must carry a UTC offset"),
    Case("rejected ack without reason", "acknowledged", KEY,
         wire({**sample_ack(status="rejected"), "reason": None}), "contract", "reason"),
    Case("missing key", "issued", None, wire(ISSUED), "key_mismatch", "no key"),
    Case("other key", "issued", b"24111000000000000002", wire(ISSUED), "key_mismatch",
         "does not equal invoice_id"),
    Case("key with trailing newline", "issued", KEY + b"\n", wire(ISSUED), "key_mismatch",
         "does not equal"),
    Case("key not UTF-8", "acknowledged", b"\xff\xfe", wire(ACK), "key_mismatch", "not UTF-8"),
    Case("too large", "issued", KEY, b" " * (MAX_VALUE_BYTES + 1), "too_large", "limit"),
]


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_rejections(case: Case) -> None:
    result = classify(case.kind, case.key, case.value)
    assert isinstance(result, Rejected)
    assert result.reason == case.reason
    assert case.fragment in result.error
    assert len(result.error) <= 500


def test_exactly_one_mebibyte_is_not_too_large() -> None:
    value = wire(ISSUED)
    padded = value[:-1] + b" " * (MAX_VALUE_BYTES - len(value)) + b"}"
    assert len(padded) == MAX_VALUE_BYTES
    assert isinstance(classify("issued", KEY, padded), Accepted)


def test_size_is_checked_before_parsing() -> None:
    # A valid event over the limit is still too large.
    big = wire(sample_issued(padding="x" * MAX_VALUE_BYTES))
    result = classify("issued", KEY, big)
    assert isinstance(result, Rejected) and result.reason == "too_large"


def test_contract_error_lists_every_field_but_no_values() -> None:
    secret = "91350100M000100O43"
    result = classify("issued", KEY, wire(sample_issued(seller_tax_id=secret, region_code="1")))
    assert isinstance(result, Rejected)
    assert "seller_tax_id" in result.error and "region_code" in result.error
    assert secret not in result.error


def test_unknown_kind_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown event kind"):
        classify("ticks", KEY, wire(ISSUED))  # type: ignore[call-overload]


kinds = st.sampled_from(["issued", "submitted", "acknowledged"])


@settings(max_examples=500)
@given(kinds, st.none() | st.binary(max_size=80), st.none() | st.binary(max_size=2000))
def test_never_raises_on_arbitrary_bytes(kind: EventKind, key: bytes | None,
                                         value: bytes | None) -> None:
    result = classify(kind, key, value)
    assert isinstance(result, Accepted | Rejected)
    if isinstance(result, Rejected):
        assert result.reason in {"too_large", "not_json", "contract", "key_mismatch"}
        assert len(result.error) <= 500
        assert "unexpectedly" not in result.error


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner,
                                                                 max_size=4),
    max_leaves=10,
)
field_names = st.sampled_from(sorted(set(ISSUED) | set(ACK) | set(SUBMITTED)))


@settings(max_examples=500)
@given(kinds, st.dictionaries(field_names, json_values, max_size=6), st.booleans())
def test_never_raises_on_mutated_events(kind: EventKind, mutation: dict[str, Any],
                                        keyed: bool) -> None:
    event = {**BASE[kind], **mutation}
    key = str(event.get("invoice_id")).encode() if keyed else None
    result = classify(kind, key, json.dumps(event).encode())
    if isinstance(result, Accepted):
        assert result.event.invoice_id == event["invoice_id"]
    else:
        assert result.reason in {"contract", "key_mismatch"}
        assert "unexpectedly" not in result.error


def test_a_validator_bug_becomes_a_contract_rejection(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> InvoiceIssued:
        raise RuntimeError("bug")

    monkeypatch.setattr(InvoiceIssued, "model_validate_json", broken)
    monkeypatch.setattr(intake_fast, "issued", lambda value: None)  # left to the contract
    result = classify("issued", KEY, wire(ISSUED))
    assert result == Rejected("contract", "validation failed unexpectedly: RuntimeError")
