"""Scenarios 4 and 6: defective events are isolated and never block what follows them.

Every test runs on one partition per topic, so "what follows" shares the bad record's
partition, its deadline index and its tick stream.
"""

from __future__ import annotations

import time
from typing import Any

import orjson

from pipeline.contracts.samples import sample_ack, sample_issued
from tests.faults.harness import FaultStack, WorkerProcess, events, iso, wait_for

OUT_OF_RANGE = ("0001-01-01T00:00:00+00:01", "9999-12-31T23:59:59-00:01")


def _unsynced(alerts: list[dict[str, Any]]) -> set[str]:
    return {a["invoice_id"] for a in alerts if a["kind"] == "unsynced"}


def _bad_answer(stack: FaultStack, worker: WorkerProcess, invoice_id: str) -> str | None:
    """What is wrong with ``/invoices/{invoice_id}``'s answer (a 500, not JSON), if anything."""
    try:
        status, _ = stack.invoice(worker, invoice_id)
    except AssertionError as exc:  # not JSON
        return str(exc)
    return f"/invoices/{invoice_id} answered 500" if status == 500 else None


def test_out_of_range_and_out_of_order_issued_at_block_nothing(stack: FaultStack) -> None:
    stack.use_partitions(1).create_topics()
    worker = stack.worker(WARN_AFTER="3s", CRITICAL_AFTER="1h").wait_ready()
    bad = [sample_issued(seq=1 + n, issued_at=at) for n, at in enumerate(OUT_OF_RANGE)]
    now = time.time()
    # Ten never-acknowledged invoices behind them, issued_at out of order (up to an hour ago).
    normal = [sample_issued(seq=10 + n, issued_at=iso(now - (n * 7 % 10) * 360))
              for n in range(10)]
    stack.produce("issued", events([*bad, *normal]))
    bad_ids = [b["invoice_id"] for b in bad]
    normal_ids = {n["invoice_id"] for n in normal}

    bad_answers: list[str] = []

    def all_alerted() -> bool:
        for invoice_id in bad_ids:  # asked throughout: never a 500, never plain text
            bad_answers.extend(filter(None, [_bad_answer(stack, worker, invoice_id)]))
        return normal_ids <= _unsynced(stack.alerts_now())

    wait_for(all_alerted, 60, "the ten invoices behind the out-of-range ones to alert",
             interval=1.0)
    alerts, letters = stack.alerts_now(), stack.dead_letters()
    isolated = {a["invoice_id"] for a in alerts} | {
        orjson.loads(d["value"])["invoice_id"] for d in letters
        if d["source_topic"] == stack.topics["issued"]}
    assert set(bad_ids) <= isolated, "an out-of-range invoice was neither alerted nor dead-lettered"
    assert [d for d in letters if d["source_topic"] == stack.topics["ticks"]] == []
    bad_answers.extend(filter(None, [_bad_answer(stack, worker, i) for i in bad_ids]))
    assert bad_answers == []


def _poison(valid: dict[str, Any]) -> list[tuple[str, bytes | None, bytes | None]]:
    """(expected reason, key, value) of every kind of bad record, around a valid event."""
    key, value = valid["invoice_id"].encode(), orjson.dumps(valid)
    return [
        ("key_mismatch", None, value),  # null key
        ("not_json", key, None),  # tombstone
        ("not_json", key, b""),
        ("not_json", key, b"null"),
        ("not_json", key, b'[{"invoice_id": "x"}]'),
        ("too_large", key, b'{"pad": "' + b"x" * (2 * 1024 * 1024) + b'"}'),
        ("key_mismatch", b"24110000000000999999", value),
        ("key_mismatch", b"\xff\xfe" + key, value),  # invalid UTF-8 key
        ("not_json", key, value[:-2] + b'\xff"}'),  # invalid UTF-8 value
    ]


def test_poison_records_on_both_inputs_are_dead_lettered_and_block_nothing(
        stack: FaultStack) -> None:
    stack.use_partitions(1).create_topics()
    worker = stack.worker(WARN_AFTER="3s", CRITICAL_AFTER="1h").wait_ready()
    poisoned = sample_issued(seq=1)
    issued_poison = _poison(poisoned)
    ack_poison = _poison(sample_ack(poisoned["invoice_id"]))
    stack.produce("issued", [(k, v) for _, k, v in issued_poison])
    stack.produce("acknowledged", [(k, v) for _, k, v in ack_poison])
    now = iso(time.time())
    acked, never = sample_issued(seq=2, issued_at=now), sample_issued(seq=3, issued_at=now)
    stack.produce("issued", events([acked, never]))
    stack.produce("acknowledged", events([sample_ack(acked["invoice_id"], acknowledged_at=now)]))

    alerts = stack.alerts(lambda a: never["invoice_id"] in _unsynced(a))
    stack.wait_committed(60)
    letters = stack.dead_letters()  # awaited before the commit: all there now

    assert stack.invoice(worker, acked["invoice_id"])[1]["status"] == "synced"
    assert acked["invoice_id"] not in _unsynced(alerts)
    assert stack.invoice(worker, poisoned["invoice_id"])[0] == 404  # nothing of it accepted
    # A set: at-least-once may repeat a dead letter, never leave one out or invent one.
    got = {(d["source_topic"], int(d["source_offset"]), d["error_reason"]) for d in letters}
    expected = {(stack.topics[role], offset, reason)
                for role, poison in (("issued", issued_poison), ("acknowledged", ack_poison))
                for offset, (reason, _, _) in enumerate(poison)}
    assert got == expected
    # The original bytes are kept for a replay.
    by_offset = {(d["source_topic"], int(d["source_offset"])): d for d in letters}
    for offset, (_, key, value) in enumerate(issued_poison):
        letter = by_offset[(stack.topics["issued"], offset)]
        assert (letter["key"], letter["value"]) == (key, value)
