"""``POST /invoices/{id}/close`` and ``/reopen``: operators close out an invoice that will never
be acknowledged (voided, duplicate, test, handled offline), or take it back.

Routed to the invoice's owner like a lookup (with the caller's token). The owner checks that the
action can apply now (404 unknown invoice, 409 already closed / synced / not closed), then
produces an ``invoice.sync.action`` event (actor = the caller's token name) to
``INVOICE_SYNC_TOPIC_ACTIONS`` and waits for the broker's ack. The worker applies it when it reads
it back in stream order, like any input, so it is durable, ordered with the invoice's events and
replayed on recovery. The answer waits briefly for that: 200 with the invoice's view once applied,
202 with the action if the worker has not read it back within ``APPLY_WAIT`` seconds (it will).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import orjson
from faust.web import View

from pipeline.contracts.action import NOTE_MAX, InvoiceAction
from pipeline.correlation.actions import refusal
from pipeline.correlation.facts import CLOSE_REASONS
from pipeline.logs import get_logger
from pipeline.queries.params import QueryError, check_invoice_id
from pipeline.queries.views import invoice_view
from pipeline.worker.api import OperatorApi, Unavailable, error
from pipeline.worker.guard import principal_of

if TYPE_CHECKING:
    from pipeline.worker.serving import ServedWorker

log = get_logger(__name__)

#: How long the API waits for its worker to read the action back before answering 202.
APPLY_WAIT = 5.0
_POLL = 0.05


def parse_body(kind: str, body: bytes) -> tuple[str | None, str | None]:
    """(reason, note) of a close or reopen request body; QueryError for anything else."""
    try:
        data = orjson.loads(body) if body.strip() else {}
    except orjson.JSONDecodeError:
        raise QueryError("body: expected a JSON object") from None
    if not isinstance(data, dict):
        raise QueryError("body: expected a JSON object")
    allowed = {"reason", "note"} if kind == "close" else {"note"}
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise QueryError(f"unknown field {unknown[0]!r}; accepted: {', '.join(sorted(allowed))}")
    reason = data.get("reason")
    if kind == "close" and reason not in CLOSE_REASONS:
        raise QueryError(f"reason={reason!r}: expected one of {', '.join(CLOSE_REASONS)}")
    note = data.get("note")
    if note is not None and (not isinstance(note, str) or len(note) > NOTE_MAX):
        raise QueryError(f"note: expected text of at most {NOTE_MAX} characters")
    return reason, note


def register_actions(worker: ServedWorker, api: OperatorApi) -> None:
    """Attach the two operator actions (role ``operator``, worker/guard.py)."""
    app, routes = worker.app, worker.routes

    async def act(view: View, request: Any, invoice_id: str, kind: str) -> Any:
        try:
            check_invoice_id(invoice_id)
            body = await request.read()
            reason, note = parse_body(kind, body)
            url = api.forward_to(invoice_id, request.headers)
            if url is not None:
                status, answer = await api.forward(
                    url, f"/invoices/{quote(invoice_id)}/{kind}", method="POST",
                    body=body, authorization=request.headers.get("Authorization"))
                return view.json(answer, status=status)
            why = refusal(api.load(invoice_id), kind)
        except QueryError as exc:
            return error(view, 400, "bad_request", str(exc))
        except Unavailable as exc:
            return error(view, 503, "unavailable", str(exc))
        if why == "not_found":
            return error(view, 404, "not_found", f"invoice {invoice_id} is not known here "
                         f"(never issued, or expired after the retention period)")
        if why is not None:
            return error(view, 409, "conflict", f"cannot {kind} invoice {invoice_id}: {why}")
        event = InvoiceAction(
            action_id=str(uuid.uuid4()), invoice_id=invoice_id, action=kind,  # type: ignore[arg-type]
            reason=reason, note=note, actor=principal_of(request).name,  # type: ignore[arg-type]
            requested_at=datetime.now(UTC))
        try:
            sent = await worker.actions.send(key=invoice_id.encode(), value=event.to_wire())
            await sent
        except Exception as exc:  # the broker refused it: nothing happened, say so
            log.warning("action_not_sent", invoice_id=invoice_id, action=kind, error=repr(exc))
            return error(view, 503, "unavailable", f"the action could not be recorded: {exc!r}")
        log.info("invoice_action", invoice_id=invoice_id, action=kind, reason=reason,
                 actor=event.actor, action_id=event.action_id)
        for _ in range(int(APPLY_WAIT / _POLL)):
            state = api.load(invoice_id)
            if state is not None and any(a.action_id == event.action_id
                                         for a in state.actions):
                answer = invoice_view(state, now=time.time())
                answer["served_by"] = str(app.conf.canonical_url)
                return view.json(answer)
            await asyncio.sleep(_POLL)
        return view.json({"status": "accepted", "action": event.model_dump(mode="json")},
                         status=202)

    @app.page(routes.add("/invoices/{invoice_id}/close", "operator"))
    class Close(View):
        async def post(self, request: Any, invoice_id: str) -> Any:
            return await act(self, request, invoice_id, "close")

    @app.page(routes.add("/invoices/{invoice_id}/reopen", "operator"))
    class Reopen(View):
        async def post(self, request: Any, invoice_id: str) -> Any:
            return await act(self, request, invoice_id, "reopen")
