"""Table-driven tests of the correlation rules, with an explicit clock."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from pipeline.correlation import (
    Ack,
    Alert,
    Flag,
    InvoiceState,
    Issued,
    Thresholds,
    invoice_alert_id,
    is_expired,
    next_deadline,
    next_due,
    on_ack,
    on_due,
    on_issued,
    synced_transition,
)
from pipeline.correlation.state import event_hash

T0 = 1_764_400_000.0
SLA = Thresholds(warn_after=900.0, critical_after=3600.0)
RETENTION = 86400.0
INV = "25112000000012345678"
NO_FLAGS = Flag(0)
WARN_AT = T0 + 900.0
CRIT_AT = T0 + 3600.0


def issue(event_id: str = "iss-1", issued_at: float = T0, red: bool = False) -> Issued:
    return Issued(INV, event_id, issued_at, "110000", "erp-a", "91350100M000100Y43", red)


def ack(
    status: str,
    at: float,
    event_id: str | None = None,
    reason_code: str | None = None,
    reason: str | None = None,
) -> Ack:
    return Ack(INV, event_id or f"ack-{status}-{at}", status, at, reason_code, reason)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Step:
    """One input at processing time ``now``: an Issued, an Ack, or a due check."""

    now: float
    fact: Issued | Ack | None = None
    watermark: float | None = None  # due check when fact is None; defaults to now


def run(steps: list[Step]) -> tuple[InvoiceState | None, list[Alert]]:
    state: InvoiceState | None = None
    alerts: list[Alert] = []
    for step in steps:
        if isinstance(step.fact, Issued):
            state, out = on_issued(
                state, step.fact, now=step.now, sla=SLA, partition=3, retention=RETENTION
            )
        elif isinstance(step.fact, Ack):
            state, out = on_ack(state, step.fact, now=step.now, partition=3, retention=RETENTION)
        else:
            assert state is not None
            wm = step.now if step.watermark is None else step.watermark
            state, out = on_due(state, now=step.now, watermark=wm)
        alerts.extend(out)
    return state, alerts


@dataclass(frozen=True)
class Case:
    name: str
    steps: list[Step]
    alerts: list[tuple[str, str]]  # (kind, severity) in order
    shape: str  # "pending" | "rejected" | "synced" | "held" | "deleted"
    flags: Flag = NO_FLAGS
    resolves: list[tuple[str, str]] = field(default_factory=list)


W, C = ("unsynced", "warning"), ("unsynced", "critical")
REJ, RES = ("rejected", "warning"), ("resolved", "info")

CASES = [
    Case("issued, checked before warning", [Step(T0, issue()), Step(WARN_AT - 1)], [], "pending"),
    Case(
        "warning at the deadline", [Step(T0, issue()), Step(WARN_AT)], [W], "pending", Flag.WARNED
    ),
    Case(
        "no warning while acks are unread (watermark behind)",
        [Step(T0, issue()), Step(WARN_AT + 600, watermark=WARN_AT - 1)],
        [],
        "pending",
    ),
    Case(
        "no warning before now even if the watermark is ahead",
        [Step(T0, issue()), Step(WARN_AT - 1, watermark=CRIT_AT + 10)],
        [],
        "pending",
    ),
    Case(
        "worker down past both deadlines: warning then critical",
        [Step(T0, issue()), Step(CRIT_AT + 60)],
        [W, C],
        "pending",
        Flag.WARNED | Flag.ESCALATED,
    ),
    Case(
        "warning then critical at separate checks",
        [Step(T0, issue()), Step(WARN_AT), Step(CRIT_AT - 1), Step(CRIT_AT)],
        [W, C],
        "pending",
        Flag.WARNED | Flag.ESCALATED,
    ),
    Case(
        "checking again emits nothing new",
        [Step(T0, issue()), Step(WARN_AT), Step(WARN_AT + 1), Step(WARN_AT + 2)],
        [W],
        "pending",
        Flag.WARNED,
    ),
    Case(
        "accepted before warning: no alerts ever",
        [Step(T0, issue()), Step(T0 + 60, ack("accepted", T0 + 50)), Step(CRIT_AT + 1)],
        [],
        "synced",
    ),
    Case(
        "duplicate status counts as accepted",
        [Step(T0, issue()), Step(T0 + 60, ack("duplicate", T0 + 50)), Step(CRIT_AT + 1)],
        [],
        "synced",
    ),
    Case(
        "accepted after warning resolves it",
        [Step(T0, issue()), Step(WARN_AT), Step(WARN_AT + 60, ack("accepted", WARN_AT + 30))],
        [W, RES],
        "synced",
        Flag.WARNED | Flag.RESOLVED,
        [W],
    ),
    Case(
        "accepted after critical resolves both",
        [Step(T0, issue()), Step(CRIT_AT), Step(CRIT_AT + 60, ack("accepted", CRIT_AT + 30))],
        [W, C, RES],
        "synced",
        Flag.WARNED | Flag.ESCALATED | Flag.RESOLVED,
        [W, C],
    ),
    Case(
        "rejected: alert at once",
        [Step(T0, issue()), Step(T0 + 60, ack("rejected", T0 + 50, reason_code="E102"))],
        [REJ],
        "rejected",
        Flag.REJECTION_ALERTED,
    ),
    Case(
        "rejected then accepted: resolved",
        [
            Step(T0, issue()),
            Step(T0 + 60, ack("rejected", T0 + 50)),
            Step(T0 + 120, ack("accepted", T0 + 110)),
            Step(CRIT_AT + 1),
        ],
        [REJ, RES],
        "synced",
        Flag.REJECTION_ALERTED | Flag.RESOLVED,
        [REJ],
    ),
    Case(
        "rejected invoice still gets unsynced deadlines",
        [Step(T0, issue()), Step(T0 + 60, ack("rejected", T0 + 50)), Step(CRIT_AT)],
        [REJ, W, C],
        "rejected",
        Flag.REJECTION_ALERTED | Flag.WARNED | Flag.ESCALATED,
    ),
    Case(
        "warning, rejected, accepted: resolves all three",
        [
            Step(T0, issue()),
            Step(WARN_AT),
            Step(WARN_AT + 10, ack("rejected", WARN_AT + 5)),
            Step(WARN_AT + 20, ack("accepted", WARN_AT + 15)),
        ],
        [W, REJ, RES],
        "synced",
        Flag.WARNED | Flag.REJECTION_ALERTED | Flag.RESOLVED,
        [W, REJ],
    ),
    Case(
        "rejected, then warning, then accepted: ids in canonical order",
        [
            Step(T0, issue()),
            Step(T0 + 5, ack("rejected", T0 + 5)),
            Step(WARN_AT),
            Step(WARN_AT + 20, ack("accepted", WARN_AT + 15)),
        ],
        [REJ, W, RES],
        "synced",
        Flag.WARNED | Flag.REJECTION_ALERTED | Flag.RESOLVED,
        [W, REJ],
    ),
    Case(
        "second rejection (new event id) alerts no more",
        [
            Step(T0, issue()),
            Step(T0 + 60, ack("rejected", T0 + 50)),
            Step(T0 + 70, ack("rejected", T0 + 65)),
        ],
        [REJ],
        "rejected",
        Flag.REJECTION_ALERTED,
    ),
    Case("ack before invoice is held", [Step(T0, ack("accepted", T0))], [], "held"),
    Case(
        "held accepted ack matches the invoice: synced, silent",
        [Step(T0, ack("accepted", T0 + 5)), Step(T0 + 10, issue()), Step(CRIT_AT + 1)],
        [],
        "synced",
    ),
    Case(
        "held rejected ack matches the invoice: rejected at once",
        [Step(T0, ack("rejected", T0 + 5)), Step(T0 + 10, issue())],
        [REJ],
        "rejected",
        Flag.REJECTION_ALERTED,
    ),
    Case(
        "held rejected then accepted: acceptance wins, silent",
        [
            Step(T0, ack("rejected", T0 + 5)),
            Step(T0 + 6, ack("accepted", T0 + 6)),
            Step(T0 + 10, issue()),
        ],
        [],
        "synced",
    ),
    Case(
        "held accepted then rejected: acceptance wins, silent",
        [
            Step(T0, ack("accepted", T0 + 5)),
            Step(T0 + 6, ack("rejected", T0 + 6)),
            Step(T0 + 10, issue()),
        ],
        [],
        "synced",
        Flag.REJECTED_AFTER_SYNC,
    ),
    Case(
        "same ack event twice: no second effect",
        [
            Step(T0, issue()),
            Step(WARN_AT),
            Step(WARN_AT + 1, ack("rejected", T0, "a1")),
            Step(WARN_AT + 2, ack("rejected", T0, "a1")),
        ],
        [W, REJ],
        "rejected",
        Flag.WARNED | Flag.REJECTION_ALERTED,
    ),
    Case(
        "second issue of the same invoice: no effect",
        [Step(T0, issue()), Step(T0 + 1, issue("iss-2", issued_at=T0 + 5000)), Step(WARN_AT)],
        [W],
        "pending",
        Flag.WARNED,
    ),
    Case(
        "accepted ack after sync: no effect",
        [
            Step(T0, issue()),
            Step(WARN_AT),
            Step(WARN_AT + 1, ack("accepted", WARN_AT)),
            Step(WARN_AT + 2, ack("accepted", WARN_AT + 2)),
        ],
        [W, RES],
        "synced",
        Flag.WARNED | Flag.RESOLVED,
        [W],
    ),
    Case(
        "rejected ack after sync: recorded, no alert",
        [Step(T0, issue()), Step(T0 + 1, ack("accepted", T0)), Step(T0 + 2, ack("rejected", T0))],
        [],
        "synced",
        Flag.REJECTED_AFTER_SYNC,
    ),
    Case(
        "orphan ack past retention: orphan_ack, deleted",
        [Step(T0, ack("accepted", T0)), Step(T0 + RETENTION)],
        [("orphan_ack", "info")],
        "deleted",
    ),
    Case(
        "orphan ack within retention: kept silently",
        [Step(T0, ack("accepted", T0)), Step(T0 + RETENTION - 1)],
        [],
        "held",
    ),
    Case(
        "synced record past retention: deleted silently",
        [Step(T0, issue()), Step(T0 + 10, ack("accepted", T0 + 5)), Step(T0 + 10 + RETENTION)],
        [],
        "deleted",
    ),
    Case(
        "synced record within retention: kept",
        [Step(T0, issue()), Step(T0 + 10, ack("accepted", T0 + 5)), Step(T0 + 9 + RETENTION)],
        [],
        "synced",
    ),
    Case(
        "red-letter invoice is flagged and alerts like any other",
        [Step(T0, issue(red=True)), Step(WARN_AT)],
        [W],
        "pending",
        Flag.RED | Flag.WARNED,
    ),
]


def shape_of(state: InvoiceState | None) -> str:
    if state is None:
        return "deleted"
    if not state.is_issued:
        return "held"
    if state.is_synced:
        return "synced"
    return "rejected" if state.ack_status == "rejected" else "pending"


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_rules(case: Case) -> None:
    state, alerts = run(case.steps)
    assert [(a.kind, a.severity) for a in alerts] == case.alerts
    assert shape_of(state) == case.shape
    if state is not None:
        assert state.flags == case.flags
    for alert in alerts:
        assert alert.alert_id == invoice_alert_id(INV, alert.kind, alert.severity)
        assert alert.invoice_id == INV
    resolved = [a for a in alerts if a.kind == "resolved"]
    expected_ids = tuple(invoice_alert_id(INV, k, s) for k, s in case.resolves)  # type: ignore[arg-type]
    assert [a.resolved_alert_ids for a in resolved] == ([expected_ids] if case.resolves else [])


def test_warning_alert_fields_and_message() -> None:
    _, alerts = run([Step(T0, issue()), Step(T0 + 16 * 60)])
    (alert,) = alerts
    assert alert.message == (
        f"invoice {INV} issued 16m ago in region 110000 (erp-a): "
        "no acknowledgement after 15m warning threshold"
    )
    assert (alert.region_code, alert.source_system) == ("110000", "erp-a")
    assert alert.seller_tax_id == "91350100M000100Y43"
    assert alert.issued_at == T0
    assert alert.deadline_at == WARN_AT
    assert alert.detected_at == T0 + 960
    assert alert.age_seconds == 960
    assert alert.scope is None and alert.due_count is None


def test_critical_alert_deadline_and_message() -> None:
    _, alerts = run([Step(T0, issue()), Step(CRIT_AT)])
    critical = alerts[1]
    assert critical.deadline_at == CRIT_AT
    assert critical.message.endswith("no acknowledgement after 1h critical threshold")
    assert critical.alert_id != alerts[0].alert_id


def test_rejected_alert_carries_reason() -> None:
    rejection = ack("rejected", T0 + 50, reason_code="E102", reason="seller name mismatch")
    _, alerts = run([Step(T0, issue()), Step(T0 + 180, rejection)])
    (alert,) = alerts
    assert (alert.reason_code, alert.reason) == ("E102", "seller name mismatch")
    assert alert.message.endswith("rejected by the tax platform (E102: seller name mismatch)")


def test_unsynced_alert_of_rejected_invoice_mentions_rejection() -> None:
    rejection = ack("rejected", T0 + 50, reason_code="E102")
    _, alerts = run([Step(T0, issue()), Step(T0 + 60, rejection), Step(WARN_AT)])
    assert alerts[1].reason_code == "E102"
    assert "no acceptance (last answer: rejected)" in alerts[1].message


def test_resolved_latency_is_ack_time_minus_issue_time() -> None:
    _, alerts = run(
        [Step(T0, issue()), Step(WARN_AT), Step(WARN_AT + 60, ack("accepted", T0 + 970))]
    )
    assert alerts[-1].latency_seconds == 970.0


def test_latency_floor_is_zero_for_ack_stamped_before_issue() -> None:
    before = InvoiceState(INV, 3)
    held, _ = on_ack(None, ack("accepted", T0 - 30), now=T0, partition=3)
    after, _ = on_issued(held, issue(), now=T0 + 1, sla=SLA, partition=3)
    sync = synced_transition(held, after)
    assert sync is not None and sync.latency_seconds == 0.0
    assert synced_transition(before, None) is None


def test_orphan_alert_fields() -> None:
    held, _ = on_ack(
        None, ack("rejected", T0, reason_code="E9"), now=T0, partition=3, retention=RETENTION
    )
    assert held is not None
    gone, alerts = on_due(held, now=T0 + RETENTION, watermark=0.0)
    assert gone is None
    (alert,) = alerts
    assert (alert.kind, alert.severity, alert.reason_code) == ("orphan_ack", "info", "E9")
    assert alert.region_code is None and alert.issued_at is None
    assert "never seen on the issued topic" in alert.message


@pytest.mark.parametrize(
    ("issued_at", "now", "warn_at"),
    [
        (T0, T0, T0 + 900),  # on time
        (T0 - 5000, T0, T0 - 5000 + 900),  # late arrival: deadline already passed
        (T0 + 100, T0, T0 + 100 + 900),  # within the skew bound: trusted
        (T0 + 300, T0, T0 + 300 + 900),  # exactly the bound
        (T0 + 3600, T0, T0 + 300 + 900),  # clock far ahead: clamped to now + 300
    ],
)
def test_deadlines_from_clamped_issue_time(issued_at: float, now: float, warn_at: float) -> None:
    state, _ = on_issued(None, issue(issued_at=issued_at), now=now, sla=SLA, partition=1)
    assert state is not None
    assert state.warn_at == warn_at
    assert state.critical_at == warn_at - 900 + 3600
    assert state.issued_at == issued_at  # the fact itself is kept as reported


def test_skew_bound_is_a_parameter() -> None:
    state, _ = on_issued(
        None, issue(issued_at=T0 + 3600), now=T0, sla=SLA, partition=1, max_future_skew=0.0
    )
    assert state is not None and state.warn_at == T0 + 900


def test_partition_is_recorded_and_updated() -> None:
    state, _ = on_issued(None, issue(), now=T0, sla=SLA, partition=7)
    assert state is not None and state.partition == 7
    state, _ = on_ack(state, ack("rejected", T0), now=T0, partition=8)
    assert state is not None and state.partition == 8


def test_no_effect_returns_the_same_object() -> None:
    state, _ = on_issued(None, issue(), now=T0, sla=SLA, partition=1)
    assert on_issued(state, issue(), now=T0 + 1, sla=SLA, partition=1) == (state, [])
    again, _ = on_issued(state, issue("iss-other"), now=T0 + 1, sla=SLA, partition=1)
    assert again is state
    synced, _ = on_ack(state, ack("accepted", T0, "a1"), now=T0, partition=1)
    replay, alerts = on_ack(synced, ack("accepted", T0, "a1"), now=T0 + 5, partition=1)
    assert replay is synced and alerts == []
    assert state is not None
    quiet, alerts = on_due(state, now=T0 + 1, watermark=T0 + 1)
    assert quiet is state and alerts == []


def test_long_reason_is_cut_in_the_record() -> None:
    state, alerts = on_issued(None, issue(), now=T0, sla=SLA, partition=1)
    state, alerts = on_ack(state, ack("rejected", T0, reason="x" * 5000), now=T0, partition=1)
    assert state is not None and state.reason == "x" * 200
    assert alerts[0].reason == "x" * 200


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        ([Step(T0, issue())], WARN_AT),
        ([Step(T0, issue()), Step(WARN_AT)], CRIT_AT),
        ([Step(T0, issue()), Step(CRIT_AT)], None),
        ([Step(T0, issue()), Step(T0 + 5, ack("rejected", T0))], WARN_AT),
        ([Step(T0, issue()), Step(T0 + 5, ack("accepted", T0))], T0 + 5 + RETENTION),
        ([Step(T0 + 7, ack("accepted", T0))], T0 + 7 + RETENTION),
        (
            [Step(T0, issue()), Step(CRIT_AT), Step(CRIT_AT + 1, ack("accepted", T0))],
            CRIT_AT + 1 + RETENTION,
        ),
    ],
    ids=["pending", "warned", "escalated", "rejected", "synced", "held", "resolved"],
)
def test_next_due(steps: list[Step], expected: float | None) -> None:
    state, _ = run(steps)
    assert state is not None
    assert next_due(state) == expected


@pytest.mark.parametrize(
    ("steps", "deadline", "expired_at"),
    [
        ([Step(T0, issue())], WARN_AT, None),
        ([Step(T0, issue()), Step(WARN_AT)], CRIT_AT, None),
        ([Step(T0, issue()), Step(T0 + 5, ack("rejected", T0))], WARN_AT, None),
        ([Step(T0, issue()), Step(T0 + 5, ack("accepted", T0))], None, T0 + 5 + RETENTION),
        ([Step(T0 + 7, ack("accepted", T0))], None, T0 + 7 + RETENTION),
    ],
    ids=["pending", "warned", "rejected", "synced", "held"],
)
def test_deadlines_and_expiry_are_told_apart(steps: list[Step], deadline: float | None,
                                             expired_at: float | None) -> None:
    state, _ = run(steps)
    assert state is not None
    assert next_deadline(state) == deadline
    if expired_at is None:
        assert not is_expired(state, T0 + 100 * RETENTION)
    else:
        assert not is_expired(state, expired_at - 0.001)
        assert is_expired(state, expired_at)
        assert on_due(state, now=expired_at, watermark=0.0)[0] is None


def test_next_due_is_when_on_due_acts() -> None:
    state, _ = run([Step(T0, issue())])
    assert state is not None
    due = next_due(state)
    assert due is not None
    assert on_due(state, now=due - 0.001, watermark=due)[1] == []
    assert on_due(state, now=due, watermark=due)[1] != []


@pytest.mark.parametrize(
    ("ack_at", "in_time"), [(T0 + 10, True), (WARN_AT, True), (WARN_AT + 1, False)]
)
def test_synced_transition(ack_at: float, in_time: bool) -> None:
    before, _ = run([Step(T0, issue())])
    after, _ = on_ack(before, ack("accepted", ack_at), now=ack_at + 1, partition=3)
    sync = synced_transition(before, after)
    assert sync is not None
    assert (sync.in_time, sync.latency_seconds) == (in_time, ack_at - T0)
    assert (sync.region_code, sync.source_system, sync.invoice_id) == ("110000", "erp-a", INV)
    assert synced_transition(after, after) is None
    assert synced_transition(None, before) is None


@pytest.mark.parametrize("fact", [
    Issued("INV-1", "iss-1", T0, "110000", "erp-a", "91350100M000100Y43", False, "卖方", "INV-1",
           11300),
    Issued("INV-2", "iss-2", T0 + 10_000, "310000", "erp-b", "S", True, None, "12345678", -500),
    Issued("INV-3", "iss-3", T0, "", "", "", False),
])
def test_a_new_invoice_gets_every_field_the_rule_names(fact: Issued) -> None:
    # The new-invoice path builds the record positionally: each field checked by name here.
    now = T0 + 5.0
    state, alerts = on_issued(None, fact, now=now, sla=SLA, partition=3, max_future_skew=300.0)
    effective = min(fact.issued_at, now + 300.0)
    assert alerts == []
    assert state == InvoiceState(
        invoice_id=fact.invoice_id, partition=3, flags=Flag.RED if fact.red else 0,
        issued_at=fact.issued_at, region_code=fact.region_code,
        source_system=fact.source_system, seller_tax_id=fact.seller_tax_id,
        seller_name=fact.seller_name,
        invoice_number=None if fact.invoice_number == fact.invoice_id else fact.invoice_number,
        total_amount_cents=fact.total_amount_cents, warn_at=effective + SLA.warn_after,
        critical_at=effective + SLA.critical_after, seen=(event_hash(fact.event_id),))
