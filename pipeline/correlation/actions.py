"""Operator actions on one invoice: close it out (voided, duplicate, test, handled offline) or
reopen it. Pure, like the other rules: the record, the action and the time in, a decision out.

- A close of a pending or rejected invoice sets ``CLOSED``: no more unsynced or rejected alerts,
  out of the pending book and gauges, and the record expires after the retention period like a
  synced one. Closing what is closed, synced, or only an ack changes nothing.
- A reopen of a closed invoice clears ``CLOSED`` and its expiry: its deadlines apply again
  (alerts already emitted are not repeated). Reopening what is not closed changes nothing.
- An action already applied (same ``action_id``: a replay, a retried request) changes nothing.
- Each applied action is appended to the record's history (the last ACTIONS_LIMIT kept; the
  actions topic holds them all).
"""

from __future__ import annotations

from dataclasses import replace

from .facts import Action
from .rules import DEFAULT_RETENTION, Decision
from .state import ACTIONS_LIMIT, NOTE_MAX_CHARS, Flag, InvoiceState, without


def refusal(state: InvoiceState | None, kind: str) -> str | None:
    """Why ``kind`` cannot apply to ``state`` now (None: it can). The API answers 404/409 with
    it; the rule below ignores such an action if one reaches the topic anyway."""
    if state is None or not state.is_issued:
        return "not_found"
    if kind == "close":
        if state.is_closed:
            return "already closed"
        if state.is_synced:
            return "already synced: nothing to close"
    elif not state.is_closed:
        return "not closed"
    return None


def on_action(state: InvoiceState | None, action: Action, *, now: float,
              retention: float = DEFAULT_RETENTION) -> Decision:
    """Apply a close or reopen (see the module docstring). Never emits alerts."""
    if state is None or refusal(state, action.kind) is not None:
        return state, []
    if any(done.action_id == action.action_id for done in state.actions):
        return state, []
    note = None if action.note is None else action.note[:NOTE_MAX_CHARS]
    history = (*state.actions, replace(action, note=note))[-ACTIONS_LIMIT:]
    if action.kind == "close":
        return replace(state, flags=state.flags | Flag.CLOSED, actions=history,
                       expires_at=now + retention), []
    return replace(state, flags=without(state.flags, Flag.CLOSED), actions=history,
                   expires_at=None), []


def closing(state: InvoiceState) -> Action | None:
    """The action that closed ``state`` (None unless closed)."""
    if not state.is_closed:
        return None
    return next((a for a in reversed(state.actions) if a.kind == "close"), None)
