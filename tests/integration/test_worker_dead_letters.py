"""Bad input goes to the dead-letter topic with its headers; valid events behind it still flow."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson

from pipeline.contracts.samples import sample_issued
from tests.integration.harness import Stack


def _headers(record: object) -> dict[str, str]:
    return {k: v.decode() for k, v in record.headers}  # type: ignore[attr-defined]


def test_bad_messages_are_dead_lettered_and_valid_ones_behind_them_flow(stack: Stack) -> None:
    stack.create_topics()
    now = datetime.now(UTC).isoformat()
    bad_contract = sample_issued(seq=2, issued_at="2024-05-01T10:00:00")  # naive timestamp
    wrong_key = sample_issued(seq=3, issued_at=now)
    valid = sample_issued(seq=4, issued_at=now)
    stack.produce("issued", [
        (b"24111000000000000001", b"\xff\xfe not json"),
        (bad_contract["invoice_id"].encode(), orjson.dumps(bad_contract)),
        (b"some-other-key", orjson.dumps(wrong_key)),
        (b"big", b"{" + b" " * (1024 * 1024 + 10) + b"}"),
        (valid["invoice_id"].encode(), orjson.dumps(valid)),
    ])
    stack.worker(WARN_AFTER="2s").wait_ready()

    dead = stack.read("dlq", lambda rs: len(rs) >= 4)
    by_reason = {_headers(r)["error_reason"]: r for r in dead}
    assert set(by_reason) == {"not_json", "contract", "key_mismatch", "too_large"}
    not_json = by_reason["not_json"]
    assert not_json.value == b"\xff\xfe not json"
    assert not_json.key == b"24111000000000000001"
    headers = _headers(not_json)
    assert headers["source_topic"] == stack.topics["issued"]
    assert int(headers["source_offset"]) >= 0 and int(headers["source_partition"]) >= 0
    assert "issued_at" in _headers(by_reason["contract"])["error"]
    assert orjson.loads(by_reason["contract"].value) == bad_contract  # original bytes kept

    # The valid invoice produced after the bad ones is correlated: it alerts as unsynced.
    alerts = stack.alerts(lambda a: any(x["invoice_id"] == valid["invoice_id"] for x in a))
    assert [a["kind"] for a in alerts if a["invoice_id"] == valid["invoice_id"]] == ["unsynced"]


def test_times_outside_utc_are_dead_lettered_and_never_block_later_deadlines(
        stack: Stack) -> None:
    """Issue 10 item 2: such an issued_at was accepted, its alert could not be built, and every
    later deadline of its partition waited behind it while each tick was dead-lettered."""
    stack.create_topics()
    now = datetime.now(UTC).isoformat()
    year_zero = sample_issued(seq=20, issued_at="0001-01-01T00:00:00+00:01")
    year_10000 = sample_issued(seq=21, issued_at="9999-12-31T23:59:59-00:01")
    valid = [sample_issued(seq=30 + n, issued_at=now) for n in range(10)]
    stack.produce_events("issued", [year_zero, year_10000, *valid])
    worker = stack.worker(WARN_AFTER="2s").wait_ready()

    wanted = {v["invoice_id"] for v in valid}
    alerts = stack.alerts(lambda a: wanted <= {x["invoice_id"] for x in a})
    assert sorted(a["invoice_id"] for a in alerts if a["kind"] == "unsynced") == sorted(wanted)
    dead = stack.read("dlq", lambda rs: len(rs) >= 2)
    assert sorted((_headers(r)["error_reason"], r.key.decode()) for r in dead) == sorted(
        ("contract", e["invoice_id"]) for e in (year_zero, year_10000))
    assert all("not representable in UTC" in _headers(r)["error"] for r in dead)
    status, body = worker.http(f"/invoices/{year_zero['invoice_id']}")
    assert status == 404 and orjson.loads(body)["error"] == "not_found"
