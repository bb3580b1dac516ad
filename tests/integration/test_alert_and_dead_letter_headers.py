"""Alert records carry CloudEvents binary-mode headers; dead letters keep the original record's
headers and timestamp beside ours and Kafka Connect's provenance headers; ``invoice-sync dlq
replay`` puts chosen dead letters back on their source topic as they were."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaProducer

from pipeline.cli import main as cli_main
from pipeline.contracts.samples import sample_issued
from tests.integration.harness import Stack

ORIGINAL_TS = 1_700_000_000_123
ORIGINAL_HEADERS = [("traceparent", b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
                    ("producer", "开票系统-北京".encode())]


def produce_with_headers(stack: Stack, role: str, key: bytes, value: bytes) -> None:
    async def send() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=stack.bootstrap, acks="all")
        await producer.start()
        try:
            await producer.send_and_wait(stack.topics[role], value=value, key=key,
                                         headers=ORIGINAL_HEADERS, timestamp_ms=ORIGINAL_TS)
        finally:
            await producer.stop()
    asyncio.run(send())


def headers_of(record: Any) -> list[tuple[str, bytes]]:
    return [(k, bytes(v)) for k, v in record.headers]


def test_alert_headers_dead_letter_provenance_and_replay(
        stack: Stack, capsys: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    stack.create_topics()
    produce_with_headers(stack, "issued", b"24111000000000000077", b"\xff not json")
    late = sample_issued(seq=78, issued_at=(datetime.now(UTC) - timedelta(minutes=5)).isoformat())
    stack.produce_events("issued", [late])
    stack.worker(WARN_AFTER="2s").wait_ready()

    # The dead letter: original key, bytes, headers (first, in order) and timestamp.
    [dead] = stack.read("dlq", lambda rs: len(rs) >= 1)
    assert (dead.key, dead.value, dead.timestamp) == (b"24111000000000000077", b"\xff not json",
                                                      ORIGINAL_TS)
    headers = headers_of(dead)
    assert headers[:2] == ORIGINAL_HEADERS
    named = dict(headers)
    assert named["source_topic"] == named["__connect.errors.topic"] == \
        stack.topics["issued"].encode()
    assert named["source_offset"] == named["__connect.errors.offset"] == b"0"
    assert named["source_partition"] == named["__connect.errors.partition"]
    assert named["error_reason"] == b"not_json"
    assert named["__connect.errors.exception.class.name"] == b"invoice_sync.intake.not_json"
    assert named["__connect.errors.exception.message"] == named["error"] != b""
    assert named["__connect.errors.stage"] == b"VALUE_CONVERTER"

    # The alert: CloudEvents binary mode, the value is the event data.
    [record] = stack.read("alerts", lambda rs: len(rs) >= 1)
    alert = orjson.loads(record.value)
    ce = dict(headers_of(record))
    assert ce["content-type"] == b"application/json" and ce["ce_specversion"] == b"1.0"
    assert ce["ce_id"].decode() == alert["alert_id"]
    assert ce["ce_type"] == b"cn.invoice-sync.alert.unsynced"
    assert ce["ce_subject"].decode() == late["invoice_id"] == alert["invoice_id"]
    assert datetime.fromisoformat(ce["ce_time"].decode()) == \
        datetime.fromisoformat(alert["detected_at"])
    assert ce["ce_source"] == f"urn:invoice-sync:{stack.prefix}-invoice-sync".encode()
    assert ce["schema_version"] == b"1" and alert["schema_version"] == 1
    assert ce["ce_dataschema"] == b"urn:invoice-sync:schema:invoice.sync.alert"

    # Replay: the CLI reads the worker's settings from the environment.
    for name, value in stack.worker_env().items():
        if name.startswith("INVOICE_SYNC_"):
            monkeypatch.setenv(name, value)
    capsys.readouterr()
    assert cli_main(["dlq", "replay", "--reason", "contract"]) == 0
    assert "0 dead letter(s) replayed" in capsys.readouterr().out
    assert cli_main(["dlq", "replay", "--dry-run", "--source-topic", stack.topics["issued"]]) == 0
    out = capsys.readouterr().out
    assert "would replay" in out and "1 dead letter(s) would be replayed" in out
    issued = stack.read("issued", lambda rs: len(rs) >= 2)
    assert len(issued) == 2  # the dry run produced nothing
    assert cli_main(["dlq", "replay", "--source-topic", stack.topics["issued"],
                     "--from-offset", "0", "--to-offset", "0", "--reason", "not_json"]) == 0
    assert "1 dead letter(s) replayed" in capsys.readouterr().out

    [replayed] = [r for r in stack.read("issued", lambda rs: len(rs) >= 3)
                  if "dlq_replayed_from" in dict(r.headers)]
    assert (replayed.key, replayed.value, replayed.timestamp) == (dead.key, dead.value,
                                                                  ORIGINAL_TS)
    assert headers_of(replayed)[:2] == ORIGINAL_HEADERS
    assert dict(headers_of(replayed))["dlq_replayed_from"].startswith(
        stack.topics["dlq"].encode())
    assert not any(k.startswith("__connect") or k == "error_reason"
                   for k, _ in headers_of(replayed))
    # Still not JSON: dead-lettered again, from its new offset, with the original headers.
    [again] = [r for r in stack.read("dlq", lambda rs: len(rs) >= 2) if r.offset > dead.offset
               or r.partition != dead.partition]
    assert headers_of(again)[:2] == ORIGINAL_HEADERS
    assert dict(headers_of(again))["source_offset"] == str(replayed.offset).encode()
