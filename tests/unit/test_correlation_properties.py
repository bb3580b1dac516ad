"""Property tests: random interleavings of issues, acks, redeliveries and due checks.

The scenario respects the adapter's watermark contract: at a due check, every ack with
``acknowledged_at <= watermark`` has already been processed.
"""

from __future__ import annotations

from collections import defaultdict

from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.correlation import (
    Ack,
    AckStatus,
    Alert,
    Flag,
    InvoiceState,
    Issued,
    Thresholds,
    decode,
    encode,
    invoice_alert_id,
    on_ack,
    on_due,
    on_issued,
)

T0 = 1_764_400_000.0
SLA = Thresholds(warn_after=900.0, critical_after=3600.0)
INVOICES = ("25112000000000000001", "25112000000000000002")
SYNCED = {"accepted", "duplicate"}


@st.composite
def scenario(draw: st.DrawFn) -> list[tuple[str, object]]:
    """A processing order of facts and due checks: ("fact", Issued|Ack) or ("due", draw)."""
    facts: list[Issued | Ack] = []
    for n, invoice_id in enumerate(INVOICES):
        if draw(st.booleans()):
            issued_at = T0 + draw(st.floats(0, 2000))
            for copy in range(draw(st.integers(1, 3))):
                # Same event redelivered, or the same invoice issued again under a new id.
                event_id = f"iss-{n}-{draw(st.integers(0, 1)) if copy else 0}"
                facts.append(
                    Issued(invoice_id, event_id, issued_at, "110000", "erp-a", "91350100M000100Y43")
                )
        for k in range(draw(st.integers(0, 4))):
            status: AckStatus = draw(st.sampled_from(["accepted", "rejected", "duplicate"]))
            acked_at = T0 + draw(st.floats(-100, 6000))
            reason = draw(st.none() | st.text(max_size=20))
            one = Ack(invoice_id, f"ack-{n}-{k}", status, acked_at, "E1", reason)
            facts.extend([one] * draw(st.integers(1, 2)))
    ordered = draw(st.permutations(facts))
    ops: list[tuple[str, object]] = [("fact", f) for f in ordered]
    for _ in range(draw(st.integers(0, 8))):
        check = (draw(st.floats(0, 1)), draw(st.floats(-1000, 10000)))
        ops.insert(draw(st.integers(0, len(ops))), ("due", check))
    return ops


def run(ops: list[tuple[str, object]]) -> tuple[dict[str, InvoiceState | None], list[Alert]]:
    """Process ``ops`` with a nondecreasing clock; check per-step invariants on the way."""
    states: dict[str, InvoiceState | None] = dict.fromkeys(INVOICES)
    alerts: list[Alert] = []
    processed_acks: dict[str, list[Ack]] = defaultdict(list)
    now = T0 - 200.0
    for index, (kind, item) in enumerate(ops):
        now += 37.0
        if kind == "fact" and isinstance(item, Issued):
            states[item.invoice_id], out = on_issued(
                states[item.invoice_id], item, now=now, sla=SLA, partition=0
            )
            check_emitted(alerts, out, processed_acks)
        elif kind == "fact" and isinstance(item, Ack):
            before = states[item.invoice_id]
            states[item.invoice_id], out = on_ack(before, item, now=now, partition=0)
            processed_acks[item.invoice_id].append(item)
            check_emitted(alerts, out, processed_acks)
        else:
            assert isinstance(item, tuple)
            step, drawn = item
            now += step * 3000
            # The contract: acks not yet processed all lie after the watermark.
            unread = [
                a.acknowledged_at
                for k, a in ops[index:]
                if k == "fact" and isinstance(a, Ack) and a not in processed_acks[a.invoice_id]
            ]
            watermark = min([T0 + drawn, *(t - 0.001 for t in unread)])
            for invoice_id, state in states.items():
                if state is None:
                    continue
                states[invoice_id], out = on_due(state, now=now, watermark=watermark)
                check_emitted(alerts, out, processed_acks)
                check_warned_when_due(states[invoice_id], alerts, min(now, watermark))
        for state in states.values():
            if state is not None:
                assert decode(encode(state)) == state
    return states, alerts


def check_emitted(alerts: list[Alert], new: list[Alert], processed: dict[str, list[Ack]]) -> None:
    for alert in new:
        earlier = [a for a in alerts if a.invoice_id == alert.invoice_id]
        # One condition, one alert, one id.
        assert (alert.kind, alert.severity) not in {(a.kind, a.severity) for a in earlier}
        assert alert.alert_id == invoice_alert_id(alert.invoice_id, alert.kind, alert.severity)
        acks = processed[alert.invoice_id]
        if alert.kind == "rejected":
            assert any(a.status == "rejected" for a in acks)
            assert not any(a.status in SYNCED for a in acks)
        if alert.kind == "resolved":
            resolvable = tuple(a.alert_id for a in earlier if a.kind in ("unsynced", "rejected"))
            assert resolvable
            # Canonical order (warning, critical, rejected), whatever the order they fired in.
            assert sorted(alert.resolved_alert_ids) == sorted(resolvable)
        alerts.append(alert)


def check_warned_when_due(state: InvoiceState | None, alerts: list[Alert], horizon: float) -> None:
    if state is None or not state.is_issued or state.is_synced:
        return
    assert state.warn_at is not None
    if state.warn_at <= horizon:
        assert state.flags & Flag.WARNED
        assert any(
            a.invoice_id == state.invoice_id and (a.kind, a.severity) == ("unsynced", "warning")
            for a in alerts
        )


@settings(max_examples=400, deadline=None)
@given(scenario())
def test_interleavings_keep_the_contract(ops: list[tuple[str, object]]) -> None:
    states, alerts = run(ops)
    all_acks = [item for kind, item in ops if isinstance(item, Ack)]
    for alert in alerts:
        if alert.kind != "unsynced":
            continue
        # An accepted ack stamped by the deadline was read before the deadline could
        # fire (watermark contract), so it never alerts.
        assert alert.deadline_at is not None
        assert not any(
            a.invoice_id == alert.invoice_id
            and a.status in SYNCED
            and a.acknowledged_at <= alert.deadline_at
            for a in all_acks
        )
    # After everything is read and both deadlines passed, each invoice is settled.
    end = T0 + 50_000.0
    for invoice_id, state in states.items():
        if state is None:
            continue
        final, out = on_due(state, now=end, watermark=end)
        alerts.extend(out)
        mine = {(a.kind, a.severity) for a in alerts if a.invoice_id == invoice_id}
        accepted = any(a.invoice_id == invoice_id and a.status in SYNCED for a in all_acks)
        if not state.is_issued:
            continue
        assert final is not None
        assert final.is_synced == accepted
        if not accepted:
            assert {("unsynced", "warning"), ("unsynced", "critical")} <= mine
            assert ("resolved", "info") not in mine
        elif mine - {("resolved", "info")}:
            assert ("resolved", "info") in mine


@settings(max_examples=200, deadline=None)
@given(scenario(), st.randoms())
def test_alert_ids_do_not_depend_on_order(ops: list[tuple[str, object]], rnd: object) -> None:
    facts = [op for op in ops if op[0] == "fact"]
    shuffled = list(facts)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    end_check = ("due", (1.0, 60_000.0))
    ids: list[dict[tuple[str, str, str], str]] = []
    for order in (facts, shuffled):
        _, alerts = run([*order, end_check])
        ids.append({(a.invoice_id, a.kind, a.severity): a.alert_id for a in alerts})
    for key in ids[0].keys() & ids[1].keys():
        assert ids[0][key] == ids[1][key]
