"""``invoice.submitted``: one upload attempt, validated like the other inputs."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from pipeline.contracts import InvoiceSubmitted, compact_error
from pipeline.contracts.samples import sample_issued, sample_submitted
from pipeline.intake import Accepted, Rejected, classify


def wire(event: dict[str, Any]) -> bytes:
    return json.dumps(event, ensure_ascii=False).encode("utf-8")


def without(event: dict[str, Any], name: str) -> dict[str, Any]:
    return {k: v for k, v in event.items() if k != name}


KEY = sample_submitted()["invoice_id"].encode()


@pytest.mark.parametrize("event", [
    sample_submitted(),
    sample_submitted(channel="web", client_name="电子税务局", client_version="2024.11"),
    sample_submitted(channel="third_party", attempt=3, transport_error="connect timeout"),
    sample_submitted(transport_error=None),
    sample_submitted(submitted_at="2024-05-01T02:00:30Z"),
    sample_submitted(unknown_field="kept out"),
], ids=["leqi", "web", "third party failed", "null error", "utc", "extra field"])
def test_valid_submissions(event: dict[str, Any]) -> None:
    submitted = InvoiceSubmitted.model_validate_json(wire(event))
    assert submitted.failed is (event.get("transport_error") is not None)
    assert submitted.submitted_at.utcoffset() is not None


@pytest.mark.parametrize(("event", "fragment"), [
    (sample_submitted(channel="fax"), "channel"),
    (sample_submitted(attempt=0), "attempt"),
    (sample_submitted(attempt="1"), "attempt"),
    (sample_submitted(submitted_at="2024-05-01T10:00:30"), "submitted_at: must carry a UTC offset"),
    (sample_submitted(submitted_at=1714528830), "submitted_at: must be an ISO 8601 string"),
    (sample_submitted(transport_error="  "), "transport_error: must not be blank"),
    (sample_submitted(transport_error="x" * 501), "transport_error"),
    (sample_submitted(client_version=""), "client_version"),
    (sample_submitted(client_name="n" * 65), "client_name"),
    (without(sample_submitted(), "client_version"), "client_version: Field required"),
    (without(sample_submitted(), "channel"), "channel: Field required"),
    (sample_submitted(event_type="invoice.issued"), "event_type"),
], ids=["channel", "attempt 0", "attempt string", "naive", "epoch", "blank error", "long error",
        "empty version", "long name", "no version", "no channel", "event type"])
def test_invalid_submissions(event: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ValidationError) as caught:
        InvoiceSubmitted.model_validate_json(wire(event))
    assert fragment in compact_error(caught.value)


def test_intake_accepts_a_submission_keyed_by_its_invoice() -> None:
    result = classify("submitted", KEY, wire(sample_submitted()))
    assert isinstance(result, Accepted)
    assert isinstance(result.event, InvoiceSubmitted)


@pytest.mark.parametrize(("key", "value", "reason"), [
    (KEY, b"{not json", "not_json"),
    (KEY, wire(sample_issued()), "contract"),
    (KEY, wire(sample_submitted(channel="fax")), "contract"),
    (b"24111000000000000099", wire(sample_submitted()), "key_mismatch"),
    (KEY, None, "not_json"),
], ids=["not json", "issued event on the submitted topic", "bad channel", "other key", "tombstone"])
def test_intake_rejects_bad_submissions(key: bytes, value: bytes | None, reason: str) -> None:
    result = classify("submitted", key, value)
    assert isinstance(result, Rejected)
    assert result.reason == reason


def test_wire_round_trip_keeps_the_offset() -> None:
    event = InvoiceSubmitted.model_validate(sample_submitted(transport_error="TLS handshake"))
    again = InvoiceSubmitted.model_validate_json(event.to_wire())
    assert again == event
    assert json.loads(event.to_wire())["submitted_at"].endswith("+08:00")
