"""The optional submitted topic on a real worker: a third co-partitioned input whose bad records
are dead-lettered like the others and whose latest attempt the invoice's record keeps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from pipeline.contracts.samples import sample_issued, sample_submitted
from tests.integration.harness import Stack, WorkerProcess, wait_for


def _headers(record: Any) -> dict[str, str]:
    return {k: v.decode() for k, v in record.headers}


def _view(worker: WorkerProcess, invoice_id: str) -> dict[str, Any] | None:
    status, body = worker.http(f"/invoices/{invoice_id}")
    return orjson.loads(body) if status == 200 else None


def test_submissions_are_read_recorded_and_bad_ones_dead_lettered(stack: Stack) -> None:
    topic = stack.topics["submitted"]
    stack.create_topics(TOPIC_SUBMITTED=topic)
    now = datetime.now(UTC)
    issued = sample_issued(seq=901, issued_at=now.isoformat())
    early = sample_issued(seq=902, issued_at=now.isoformat())  # its upload comes first
    invoice, held = issued["invoice_id"], early["invoice_id"]

    def at(seconds: float) -> str:
        return (now + timedelta(seconds=seconds)).isoformat()

    first = sample_submitted(invoice, submitted_at=at(1), attempt=1,
                             transport_error="connect timeout after 10s")
    second = sample_submitted(invoice, submitted_at=at(5), attempt=2, channel="web",
                              client_name="servyou-etax", client_version="2.8.3")
    bad_channel = sample_submitted(invoice, channel="fax")
    stack.produce("submitted", [
        (invoice.encode(), b"{truncated"),
        (invoice.encode(), orjson.dumps(bad_channel)),
        (b"another-key", orjson.dumps(first)),
        (invoice.encode(), orjson.dumps(second)),
        (invoice.encode(), orjson.dumps(first)),  # older attempt, delivered late: no effect
        (held.encode(), orjson.dumps(sample_submitted(held, submitted_at=at(2)))),
    ])
    stack.produce_events("issued", [issued, early])
    worker = stack.worker(TOPIC_SUBMITTED=topic, WARN_AFTER="1h", CRITICAL_AFTER="2h")
    worker.wait_ready()

    dead = stack.read("dlq", lambda rs: len(rs) >= 3)
    assert sorted(_headers(r)["error_reason"] for r in dead) == [
        "contract", "key_mismatch", "not_json"]
    assert {_headers(r)["source_topic"] for r in dead} == {topic}
    assert "channel" in next(_headers(r)["error"] for r in dead
                             if _headers(r)["error_reason"] == "contract")

    view = wait_for(lambda: (v := _view(worker, invoice)) and v["submission"] and v, 60,
                    "the upload to be recorded")
    assert view["submission"] == {
        "attempts": 2, "last_attempt_at": view["submission"]["last_attempt_at"],
        "channel": "web", "client": "servyou-etax/2.8.3", "transport_error": None}
    recorded = datetime.fromisoformat(view["submission"]["last_attempt_at"])
    assert recorded == datetime.fromisoformat(at(5))
    assert view["status"] == "pending"
    early_view = wait_for(lambda: (v := _view(worker, held)) and v["issued_at"] and v, 60,
                          "the held upload's invoice")
    assert early_view["submission"]["attempts"] == 1  # kept from before the invoice arrived
    assert early_view["submission"]["channel"] == "leqi"
