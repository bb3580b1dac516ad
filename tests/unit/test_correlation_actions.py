"""Close and reopen, table-driven with an explicit clock: alerts stop, the pending book lets go,
a later accepted ack still records the sync, reopen brings the deadlines back, replays are
no-ops."""

from __future__ import annotations

from dataclasses import replace

import pytest

from pipeline.correlation import (
    Ack,
    Flag,
    InvoiceState,
    Issued,
    Thresholds,
    next_deadline,
    on_ack,
    on_due,
    on_issued,
)
from pipeline.correlation.actions import closing, on_action, refusal
from pipeline.correlation.facts import Action
from pipeline.correlation.pending import PendingBook
from pipeline.correlation.state import ACTIONS_LIMIT, decode, encode

T0 = 1_764_400_000.0
SLA = Thresholds(warn_after=900.0, critical_after=3600.0)
INV = "25112000000012345678"


def pending() -> InvoiceState:
    state, _ = on_issued(None, Issued(INV, "iss", T0, "110000", "erp-a", "91350100M000100Y43"),
                         now=T0, sla=SLA, partition=3)
    assert state is not None
    return state


def act(kind: str, action_id: str = "act-1", at: float = T0 + 60,
        reason: str | None = "voided") -> Action:
    return Action(INV, action_id, kind, at, "ops-alice",  # type: ignore[arg-type]
                  reason if kind == "close" else None, "作废: 开错了")


def closed() -> InvoiceState:
    state, alerts = on_action(pending(), act("close"), now=T0 + 60, retention=86400)
    assert state is not None and not alerts
    return state


def test_close_stops_deadlines_and_leaves_the_pending_book() -> None:
    before, after = pending(), closed()
    assert after.is_closed and next_deadline(after) is None
    assert after.expires_at == T0 + 60 + 86400
    assert closing(after) == act("close")
    book = PendingBook()
    book.update(None, before)
    assert len(book) == 1 and sum(book.counts.values()) == 1
    book.update(before, after)
    assert len(book) == 0 and sum(book.counts.values()) == 0
    # Past both deadlines: nothing fires.
    assert on_due(after, now=T0 + 7200, watermark=T0 + 7200) == (after, [])
    # Past the retention: the record expires like a synced one.
    assert on_due(after, now=T0 + 60 + 86400, watermark=T0 + 90000) == (None, [])


def test_a_closed_invoice_does_not_alert_on_rejection_but_records_a_later_sync() -> None:
    state = closed()
    rejected, alerts = on_ack(state, Ack(INV, "a1", "rejected", T0 + 100, "E1", "bad"),
                              now=T0 + 100, partition=3)
    assert alerts == [] and rejected is not None and rejected.ack_status == "rejected"
    synced, alerts = on_ack(rejected, Ack(INV, "a2", "accepted", T0 + 200), now=T0 + 200,
                            partition=3)
    assert synced is not None and synced.is_synced and synced.is_closed
    assert synced.acknowledged_at == T0 + 200 and alerts == []  # nothing was alerted


def test_reopen_brings_the_deadlines_back_without_repeating_alerts() -> None:
    state = pending()
    warned, alerts = on_due(state, now=T0 + 1000, watermark=T0 + 1000)
    assert [a.severity for a in alerts] == ["warning"] and warned is not None
    shut, _ = on_action(warned, act("close"), now=T0 + 1100)
    assert shut is not None
    reopened, alerts = on_action(shut, act("reopen", "act-2", T0 + 2000), now=T0 + 2000)
    assert alerts == [] and reopened is not None and not reopened.is_closed
    assert reopened.expires_at is None and next_deadline(reopened) == T0 + 3600
    assert [a.kind for a in reopened.actions] == ["close", "reopen"]
    _, alerts = on_due(reopened, now=T0 + 4000, watermark=T0 + 4000)
    assert [a.severity for a in alerts] == ["critical"]


@pytest.mark.parametrize(("state", "kind", "why"), [
    (None, "close", "not_found"),
    (InvoiceState(INV, 0, held_since=T0, ack_status="accepted"), "close", "not_found"),
    ("closed", "close", "already closed"),
    ("synced", "close", "already synced: nothing to close"),
    ("pending", "reopen", "not closed"),
    ("pending", "close", None),
    ("closed", "reopen", None),
])
def test_what_cannot_apply_is_refused_and_ignored(state: object, kind: str,
                                                  why: str | None) -> None:
    record: InvoiceState | None
    if state == "pending":
        record = pending()
    elif state == "closed":
        record = closed()
    elif state == "synced":
        record, _ = on_ack(pending(), Ack(INV, "a", "accepted", T0 + 5), now=T0 + 5,
                           partition=3)
    else:
        record = state  # type: ignore[assignment]
    assert refusal(record, kind) == why
    if why is not None:
        assert on_action(record, act(kind, "act-9"), now=T0 + 70) == (record, [])


def test_an_action_applied_twice_is_a_no_op_and_history_is_bounded() -> None:
    state = closed()
    assert on_action(state, act("close"), now=T0 + 61) == (state, [])
    for n in range(ACTIONS_LIMIT + 3):
        kind = "reopen" if state.is_closed else "close"
        new, _ = on_action(state, act(kind, f"x{n}", T0 + 100 + n), now=T0 + 100 + n)
        assert new is not None
        state = new
    assert len(state.actions) == ACTIONS_LIMIT
    assert state.actions[-1].action_id == f"x{ACTIONS_LIMIT + 2}"
    assert decode(encode(state)) == state


def test_a_long_note_is_cut() -> None:
    state, _ = on_action(pending(), replace(act("close"), note="x" * 2000), now=T0)
    assert state is not None and len(state.actions[0].note or "") == 500
    assert state.flags & Flag.CLOSED
